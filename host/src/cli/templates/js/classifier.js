// `{{name}}`: a Switchyard classifier.
//
// Emits `{{name}}.length` (input tokens / `saturation_tokens`, capped at 1) and
// `{{name}}.question` (1 when the last user message ends with `?`).
//
// WIT names arrive in camelCase (`input-tokens` is `inputTokens`); throwing a string returns
// `err(string)`.

import { log } from "switchyard:plugin/host@0.2.0";

// Set by `configure`; depends on the configuration only, never on a request.
let config = { saturation_tokens: 1000 };

export function configure(text) {
  const raw = JSON.parse(text || "{}");
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw "config: expected a JSON object";
  const c = { saturation_tokens: 1000 };
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in c)) throw `config: unknown key \`${key}\``;
    c[key] = value;
  }
  if (!Number.isInteger(c.saturation_tokens) || c.saturation_tokens < 1) {
    throw "config key `saturation_tokens`: expected a whole number >= 1";
  }
  config = c;
  log("debug", `{{name}}: saturation_tokens ${c.saturation_tokens}`);
}

export function classify(req) {
  const lastUser = [...req.messages].reverse().find((m) => m.role === "user")?.content.trim() ?? "";
  return [
    { name: "{{name}}.length", value: Math.min(req.inputTokens / config.saturation_tokens, 1) },
    { name: "{{name}}.question", value: lastUser.endsWith("?") ? 1 : 0 },
  ];
}
