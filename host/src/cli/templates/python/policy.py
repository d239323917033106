"""`{{name}}`: a Switchyard policy.

Plans the healthy models cheapest tier first; when the signal `complexity.score` reaches
`threshold`, strongest first instead.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

# Set by `configure`; depends on the configuration only, never on a request.
CONFIG = {"threshold": 0.7}


def parse_config(text):
    try:
        raw = json.loads(text or "{}")
    except ValueError as e:
        raise Err(f"config: not JSON: {e}")
    if not isinstance(raw, dict):
        raise Err("config: expected a JSON object")
    config = {"threshold": 0.7}
    for key, value in raw.items():
        if key not in config:
            raise Err(f"config: unknown key `{key}`")
        config[key] = value
    threshold = config["threshold"]
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
        raise Err("config key `threshold`: expected a number in 0..=1")
    return config


def route(config, req, signals, models):
    score = next((s.value for s in signals if s.name == "complexity.score"), 0.0)
    healthy = sorted((m for m in models if m.healthy), key=lambda m: (m.tier, m.id))
    if not healthy:
        raise Err("no healthy model")
    if score >= config["threshold"]:
        healthy.reverse()
        reason = f"complexity {score:.2f} >= {config['threshold']}: strongest first"
    else:
        reason = f"complexity {score:.2f} < {config['threshold']}: cheapest first"
    return types.Plan(steps=[m.id for m in healthy], reason=reason)


class WitWorld(wit_world.WitWorld):
    def configure(self, config: str) -> None:
        global CONFIG
        CONFIG = parse_config(config)

    def route(self, req: types.Request, signals: list[types.Signal], models: list[types.ModelInfo]) -> types.Plan:
        return route(CONFIG, req, signals, models)
