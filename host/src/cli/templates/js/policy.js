// `{{name}}`: a Switchyard policy.
//
// Plans the healthy models cheapest tier first; when the signal `complexity.score` reaches
// `threshold`, strongest first instead.
//
// WIT names arrive in camelCase (`context-window` is `contextWindow`); throwing a string
// returns `err(string)`.

// Set by `configure`; depends on the configuration only, never on a request.
let config = { threshold: 0.7 };

export function configure(text) {
  const raw = JSON.parse(text || "{}");
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw "config: expected a JSON object";
  const c = { threshold: 0.7 };
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in c)) throw `config: unknown key \`${key}\``;
    c[key] = value;
  }
  if (typeof c.threshold !== "number" || !(c.threshold >= 0 && c.threshold <= 1)) {
    throw "config key `threshold`: expected a number in 0..=1";
  }
  config = c;
}

export function route(req, signals, models) {
  const score = signals.find((s) => s.name === "complexity.score")?.value ?? 0;
  const healthy = models
    .filter((m) => m.healthy)
    .sort((a, b) => a.tier - b.tier || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (healthy.length === 0) throw "no healthy model";
  let reason;
  if (score >= config.threshold) {
    healthy.reverse();
    reason = `complexity ${score.toFixed(2)} >= ${config.threshold}: strongest first`;
  } else {
    reason = `complexity ${score.toFixed(2)} < ${config.threshold}: cheapest first`;
  }
  return { steps: healthy.map((m) => m.id), reason };
}
