"""`{{name}}`: a Switchyard gate.

Escalates answers shorter than `min_chars` (after trimming) or cut off by the token limit
(`finish-reason` `length`); accepts the rest with confidence 1.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

# Set by `configure`; depends on the configuration only, never on a request.
CONFIG = {"min_chars": 1}


def parse_config(text):
    try:
        raw = json.loads(text or "{}")
    except ValueError as e:
        raise Err(f"config: not JSON: {e}")
    if not isinstance(raw, dict):
        raise Err("config: expected a JSON object")
    config = {"min_chars": 1}
    for key, value in raw.items():
        if key not in config:
            raise Err(f"config: unknown key `{key}`")
        config[key] = value
    if not isinstance(config["min_chars"], int) or isinstance(config["min_chars"], bool) or config["min_chars"] < 0:
        raise Err("config key `min_chars`: expected a whole number")
    return config


def check(config, req, answer):
    if len(answer.content.strip()) < config["min_chars"]:
        return types.Verdict_Escalate(value=f"shorter than {config['min_chars']} characters")
    if answer.finish_reason == "length":
        return types.Verdict_Escalate(value="cut off (finish reason `length`)")
    return types.Verdict_Accept(value=1.0)


class WitWorld(wit_world.WitWorld):
    def configure(self, config: str) -> None:
        global CONFIG
        CONFIG = parse_config(config)

    def check(self, req: types.Request, answer: types.Candidate) -> types.Verdict:
        return check(CONFIG, req, answer)
