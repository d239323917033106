// `{{name}}`: a Switchyard gate.
//
// Escalates answers shorter than `min_chars` (after trimming) or cut off by the token limit
// (`finish-reason` `length`); accepts the rest with confidence 1.
//
// A verdict is `{ tag: "accept", val: 0.9 }`, `{ tag: "escalate", val: "why" }` or
// `{ tag: "reject", val: "why" }`; throwing a string returns `err(string)`.

// Set by `configure`; depends on the configuration only, never on a request.
let config = { min_chars: 1 };

export function configure(text) {
  const raw = JSON.parse(text || "{}");
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw "config: expected a JSON object";
  const c = { min_chars: 1 };
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in c)) throw `config: unknown key \`${key}\``;
    c[key] = value;
  }
  if (!Number.isInteger(c.min_chars) || c.min_chars < 0) throw "config key `min_chars`: expected a whole number";
  config = c;
}

export function check(req, answer) {
  if ([...answer.content.trim()].length < config.min_chars) {
    return { tag: "escalate", val: `shorter than ${config.min_chars} characters` };
  }
  if (answer.finishReason === "length") return { tag: "escalate", val: "cut off (finish reason `length`)" };
  return { tag: "accept", val: 1 };
}
