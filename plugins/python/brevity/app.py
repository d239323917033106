"""`brevity` (gate): judges an answer by its length and a few phrases.

Checks, first match wins:

1. the answer contains a `banned` phrase (case-insensitive; default none): reject;
2. it is shorter than `min_chars` (default 1, after trimming) or was cut off
   (`finish-reason` is `length`): escalate;
3. it is longer than `max_chars` (default none): escalate;
4. otherwise accept, with confidence 1.0 (0.8 when the request asked for JSON and the answer
   does not start with `{` or `[`: a hint for the next gate, not a verdict).

Configuration: `{"min_chars": 1, "max_chars": null, "banned": []}`.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

CONFIG = {"min_chars": 1, "max_chars": None, "banned": []}


def parse_config(text):
    try:
        raw = json.loads(text or "{}")
    except ValueError as e:
        raise Err(f"config: not JSON: {e}")
    if not isinstance(raw, dict):
        raise Err("config: expected a JSON object")
    config = {"min_chars": 1, "max_chars": None, "banned": []}
    for key, value in raw.items():
        if key not in config:
            raise Err(f"config: unknown key `{key}`")
        config[key] = value
    for key in ("min_chars", "max_chars"):
        value = config[key]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise Err(f"config key `{key}`: expected a whole number")
    if not isinstance(config["banned"], list) or not all(isinstance(p, str) and p for p in config["banned"]):
        raise Err("config key `banned`: expected a list of non-empty strings")
    config["banned"] = [p.lower() for p in config["banned"]]
    return config


def check(config, req, answer):
    text = answer.content.strip()
    lower = text.lower()
    for phrase in config["banned"]:
        if phrase in lower:
            return types.Verdict_Reject(value=f"contains banned phrase `{phrase}`")
    if len(text) < config["min_chars"]:
        return types.Verdict_Escalate(value=f"shorter than {config['min_chars']} characters")
    if answer.finish_reason == "length":
        return types.Verdict_Escalate(value="cut off (finish reason `length`)")
    if config["max_chars"] is not None and len(text) > config["max_chars"]:
        return types.Verdict_Escalate(value=f"longer than {config['max_chars']} characters")
    if req.wants_json and not text.startswith(("{", "[")):
        return types.Verdict_Accept(value=0.8)
    return types.Verdict_Accept(value=1.0)


class WitWorld(wit_world.WitWorld):
    def configure(self, config: str) -> None:
        global CONFIG
        CONFIG = parse_config(config)

    def check(self, req, answer):
        return check(CONFIG, req, answer)
