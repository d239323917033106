"""`topics` (classifier): which subjects a request is about, from keywords.

Signals (values in 0..=1):

- `topic.code`, `topic.math`, `topic.writing`: the share of that topic's keywords found in
  the user's text, saturating at `saturation` hits (default 3);
- `topic`: the strongest topic's value, labelled with its name (`general` and 0 when no
  keyword matched). Ties go to the topic listed first.

Configuration (all optional): `{"keywords": {"code": ["rust", ...]}, "saturation": 3}`.
`keywords` replaces the list of each topic it names and may add topics.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types

DEFAULT_KEYWORDS = {
    "code": ["code", "function", "compile", "bug", "python", "rust", "javascript", "sql", "```", "error:"],
    "math": ["prove", "equation", "integral", "derivative", "sum of", "compute", "probability", "theorem"],
    "writing": ["essay", "poem", "story", "rewrite", "summarize", "summarise", "tone", "letter"],
}

# Set by `configure` from the configuration alone; nothing about a request is kept.
KEYWORDS = DEFAULT_KEYWORDS
SATURATION = 3


def parse_config(text):
    try:
        raw = json.loads(text or "{}")
    except ValueError as e:
        raise Err(f"config: not JSON: {e}")
    if not isinstance(raw, dict):
        raise Err("config: expected a JSON object")
    unknown = sorted(set(raw) - {"keywords", "saturation"})
    if unknown:
        raise Err(f"config: unknown key `{unknown[0]}`")
    keywords = dict(DEFAULT_KEYWORDS)
    for topic, words in raw.get("keywords", {}).items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            raise Err(f"config key `keywords.{topic}`: expected a list of non-empty strings")
        keywords[topic] = [w.lower() for w in words]
    saturation = raw.get("saturation", 3)
    if not isinstance(saturation, int) or isinstance(saturation, bool) or saturation < 1:
        raise Err("config key `saturation`: expected a whole number >= 1")
    return keywords, saturation


def classify(req, keywords, saturation):
    text = "\n".join(m.content for m in req.messages if m.role == "user").lower()
    signals = []
    best = ("general", 0.0)
    for topic, words in keywords.items():
        hits = sum(1 for w in words if w in text)
        value = min(hits, saturation) / saturation
        signals.append(types.Signal(name=f"topic.{topic}", value=value, label=None))
        if value > best[1]:
            best = (topic, value)
    signals.append(types.Signal(name="topic", value=best[1], label=best[0]))
    return signals


class WitWorld(wit_world.WitWorld):
    def configure(self, config: str) -> None:
        global KEYWORDS, SATURATION
        KEYWORDS, SATURATION = parse_config(config)
        host.log(host.Level.DEBUG, f"topics: {len(KEYWORDS)} topics")

    def classify(self, req):
        return classify(req, KEYWORDS, SATURATION)
