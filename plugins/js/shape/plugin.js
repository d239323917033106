// `shape` (classifier): the form of a request, not its subject.
//
// Signals (values in 0..=1):
//
// - `shape.turns`: messages in the conversation / `max_turns` (default 10), capped at 1;
// - `shape.questions`: question marks in the last user message / 3, capped at 1;
// - `shape.code`: 1 when the last user message has a code fence (```), else 0;
// - `shape.script`: the share of non-ASCII letters in the last user message, labelled
//   `ascii` below `non_ascii_threshold` (default 0.3) and `non-ascii` at or above it.
//
// Configuration (all optional): `{"max_turns": 10, "non_ascii_threshold": 0.3}`.

import { log } from "switchyard:plugin/host@0.2.0";

const DEFAULTS = { max_turns: 10, non_ascii_threshold: 0.3 };
// Set by `configure` from the configuration alone; nothing about a request is kept.
let config = { ...DEFAULTS };

export function configure(text) {
  const raw = JSON.parse(text || "{}");
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw "config: expected a JSON object";
  for (const key of Object.keys(raw)) {
    if (!(key in DEFAULTS)) throw `config: unknown key \`${key}\``;
  }
  const c = { ...DEFAULTS, ...raw };
  if (!Number.isInteger(c.max_turns) || c.max_turns < 1) throw "config key `max_turns`: expected a whole number >= 1";
  if (!(c.non_ascii_threshold >= 0 && c.non_ascii_threshold <= 1)) {
    throw "config key `non_ascii_threshold`: expected a number in 0..=1";
  }
  config = c;
  log("debug", `shape: max_turns ${c.max_turns}`);
}

export function classify(req) {
  const last = [...req.messages].reverse().find((m) => m.role === "user")?.content ?? "";
  // A letter is a character with case (the engine has no Unicode property escapes).
  const letters = [...last].filter((ch) => ch.toLowerCase() !== ch.toUpperCase());
  const nonAscii = letters.filter((ch) => ch.codePointAt(0) > 0x7f).length;
  const share = letters.length === 0 ? 0 : nonAscii / letters.length;
  return [
    { name: "shape.turns", value: Math.min(req.messages.length / config.max_turns, 1) },
    { name: "shape.questions", value: Math.min((last.match(/\?/g) ?? []).length / 3, 1) },
    { name: "shape.code", value: last.includes("```") ? 1 : 0 },
    { name: "shape.script", value: share, label: share >= config.non_ascii_threshold ? "non-ascii" : "ascii" },
  ];
}
