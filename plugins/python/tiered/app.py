"""`tiered` (policy), the Python twin of `plugins/tiered` (Rust) and `plugins/js/tiered`.

Pick a start tier from one signal's thresholds, then try the tiers at or above it
cheapest-first, then the ones below it. The three versions share their logic line for line
and are tested on `plugins/tiered/fixtures.jsonl` for identical plans: change one, change all
three. The rules and the configuration are documented in `plugins/tiered/src/lib.rs`.
"""

import json
import math

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

DEFAULTS = {
    "signal": "complexity.score",
    "thresholds": [0.35, 0.7],
    "output_reserve": 1024,
    "max_steps": 3,
    "hint_key": "tier",
}

# Set by `configure`, read by `route`: the only state kept between calls, and it depends on the
# configuration alone.
CONFIG = dict(DEFAULTS)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF


def parse_config(text):
    """Parses and validates the configuration; raises `Err` naming the key at fault."""
    try:
        raw = json.loads(text or "{}")
    except ValueError as e:
        raise Err(f"config: not JSON: {e}")
    if not isinstance(raw, dict):
        raise Err("config: expected a JSON object (a table of keys)")
    for key in raw:
        if key not in DEFAULTS:
            raise Err(f"config: unknown key `{key}`")
    config = dict(DEFAULTS)
    config.update(raw)
    if not isinstance(config["signal"], str):
        raise Err("config key `signal`: expected a string")
    if not isinstance(config["hint_key"], str):
        raise Err("config key `hint_key`: expected a string")
    thresholds = config["thresholds"]
    if (
        not isinstance(thresholds, list)
        or not all(is_number(t) and math.isfinite(t) for t in thresholds)
        or any(a > b for a, b in zip(thresholds, thresholds[1:]))
    ):
        raise Err("config key `thresholds`: expected ascending finite numbers")
    config["thresholds"] = [float(t) for t in thresholds]
    if not is_count(config["output_reserve"]):
        raise Err("config key `output_reserve`: expected a whole number")
    if not is_count(config["max_steps"]) or config["max_steps"] < 1:
        raise Err("config key `max_steps`: expected at least 1")
    return config


def percent(score):
    """`score` as a whole percentage, clamped and rounded half up, as in the Rust version."""
    return int(math.floor(min(max(score, 0.0), 1.0) * 100.0 + 0.5))


def hinted_tier(config, req):
    key = config["hint_key"]
    if key == "":
        return None
    value = next((v for k, v in req.metadata if k == key), None)
    if value is None or not 1 <= len(value) <= 3 or not all(c in "0123456789" for c in value):
        return None
    return int(value), value


def plan(config, req, signals, models):
    score = next((s.value for s in signals if s.name == config["signal"]), None)
    if score is not None and not math.isfinite(score):
        score = None
    start = sum(1 for t in config["thresholds"] if (score if score is not None else 0.0) >= t)
    why = f"score {percent(score)}%" if score is not None else f"no {config['signal']}"
    hint = hinted_tier(config, req)
    if hint is not None:
        start = hint[0]
        why = f"hint {config['hint_key']}={hint[1]}"

    out = req.max_tokens if req.max_tokens is not None else config["output_reserve"]
    need = req.input_tokens + out
    fit = [m for m in models if m.context_window >= need]
    for wanted, tag in ((req.wants_json, "json"), (req.has_tools, "tools")):
        if wanted and any(tag in m.tags for m in fit):
            fit = [m for m in fit if tag in m.tags]
    if not fit:
        raise Err(f"no model fits {need} tokens")
    note = ""
    usable = [m for m in fit if m.healthy]
    if not usable:
        usable = list(fit)
        note = "; all unhealthy"

    def cost(m):
        return m.input_price * float(req.input_tokens) + m.output_price * float(out)

    up = sorted((m for m in usable if m.tier >= start), key=lambda m: (m.tier, cost(m), m.id))
    down = sorted((m for m in usable if m.tier < start), key=lambda m: (-m.tier, cost(m), m.id))
    steps = [m.id for m in (up + down)[: config["max_steps"]]]
    reason = f"tiered: start tier {start} ({why}); {len(steps)} of {len(fit)} models{note}"
    return types.Plan(steps=steps, reason=reason)


class WitWorld(wit_world.WitWorld):
    def configure(self, config: str) -> None:
        global CONFIG
        CONFIG = parse_config(config)

    def route(self, req, signals, models):
        return plan(CONFIG, req, signals, models)
