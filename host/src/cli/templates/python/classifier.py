"""`{{name}}`: a Switchyard classifier.

Emits `{{name}}.length` (input tokens / `saturation_tokens`, capped at 1) and
`{{name}}.question` (1 when the last user message ends with `?`).
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types

# Set by `configure`; depends on the configuration only, never on a request.
CONFIG = {"saturation_tokens": 1000}


def parse_config(text):
    try:
        raw = json.loads(text or "{}")
    except ValueError as e:
        raise Err(f"config: not JSON: {e}")
    if not isinstance(raw, dict):
        raise Err("config: expected a JSON object")
    config = {"saturation_tokens": 1000}
    for key, value in raw.items():
        if key not in config:
            raise Err(f"config: unknown key `{key}`")
        config[key] = value
    tokens = config["saturation_tokens"]
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
        raise Err("config key `saturation_tokens`: expected a whole number >= 1")
    return config


def classify(config, req):
    last_user = next((m.content.strip() for m in reversed(req.messages) if m.role == "user"), "")
    length = min(req.input_tokens / config["saturation_tokens"], 1.0)
    return [
        types.Signal(name="{{name}}.length", value=length, label=None),
        types.Signal(name="{{name}}.question", value=1.0 if last_user.endswith("?") else 0.0, label=None),
    ]


class WitWorld(wit_world.WitWorld):
    def configure(self, config: str) -> None:
        global CONFIG
        CONFIG = parse_config(config)
        host.log(host.Level.DEBUG, f"{{name}}: {CONFIG}")

    def classify(self, req: types.Request) -> list[types.Signal]:
        return classify(CONFIG, req)
