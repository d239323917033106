// `hedge` (gate): escalates answers that hedge instead of answering.
//
// The first `window` characters (default 200) of the answer are searched, case-insensitively,
// for `phrases` (default: "i'm not sure", "i am not sure", "i don't know", "i do not know",
// "cannot determine"). A match escalates; so does an empty answer. On the last step of a plan
// escalating has nowhere to go, so the hedge is accepted with confidence 0.3 and says so in
// the host's log. Otherwise: accept with confidence 1. Never rejects.
//
// Configuration: `{"phrases": [...], "window": 200}` (`phrases` replaces the list).

import { log } from "switchyard:plugin/host@0.2.0";

const DEFAULTS = {
  phrases: ["i'm not sure", "i am not sure", "i don't know", "i do not know", "cannot determine"],
  window: 200,
};
let config = { ...DEFAULTS };

export function configure(text) {
  const raw = JSON.parse(text || "{}");
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw "config: expected a JSON object";
  for (const key of Object.keys(raw)) {
    if (!(key in DEFAULTS)) throw `config: unknown key \`${key}\``;
  }
  const c = { ...DEFAULTS, ...raw };
  if (!Array.isArray(c.phrases) || !c.phrases.every((p) => typeof p === "string" && p.length > 0)) {
    throw "config key `phrases`: expected a list of non-empty strings";
  }
  if (!Number.isInteger(c.window) || c.window < 1) throw "config key `window`: expected a whole number >= 1";
  config = { phrases: c.phrases.map((p) => p.toLowerCase()), window: c.window };
}

export function check(req, answer) {
  const head = answer.content.trim().slice(0, config.window).toLowerCase();
  if (head.length === 0) return { tag: "escalate", val: "empty answer" };
  const phrase = config.phrases.find((p) => head.includes(p));
  if (phrase === undefined) return { tag: "accept", val: 1 };
  if (answer.lastStep) {
    log("info", `hedge: accepting a hedging last answer ("${phrase}") for ${req.id}`);
    return { tag: "accept", val: 0.3 };
  }
  return { tag: "escalate", val: `hedges ("${phrase}")` };
}
