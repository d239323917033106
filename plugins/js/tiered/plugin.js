// `tiered` (policy), the JavaScript twin of `plugins/tiered` (Rust) and
// `plugins/python/tiered`.
//
// Pick a start tier from one signal's thresholds, then try the tiers at or above it
// cheapest-first, then the ones below it. The three versions share their logic line for line
// and are tested on `plugins/tiered/fixtures.jsonl` for identical plans: change one, change
// all three. The rules and the configuration are documented in `plugins/tiered/src/lib.rs`.
//
// WIT names arrive in camelCase (`input-tokens` is `inputTokens`), an `option` is the value
// or `undefined`, a `list<tuple<string, string>>` is an array of pairs, and throwing a string
// returns `err(string)`.

const DEFAULTS = {
  signal: "complexity.score",
  thresholds: [0.35, 0.7],
  output_reserve: 1024,
  max_steps: 3,
  hint_key: "tier",
};

// Set by `configure`, read by `route`: the only state kept between calls, and it depends on the
// configuration alone.
let config = { ...DEFAULTS };

const isCount = (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

function parseConfig(text) {
  let raw;
  try {
    raw = JSON.parse(text || "{}");
  } catch (e) {
    throw `config: not JSON: ${e.message}`;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw "config: expected a JSON object (a table of keys)";
  }
  for (const key of Object.keys(raw)) {
    if (!(key in DEFAULTS)) throw `config: unknown key \`${key}\``;
  }
  const c = { ...DEFAULTS, ...raw };
  if (typeof c.signal !== "string") throw "config key `signal`: expected a string";
  if (typeof c.hint_key !== "string") throw "config key `hint_key`: expected a string";
  const t = c.thresholds;
  if (!Array.isArray(t) || !t.every(Number.isFinite) || t.some((x, i) => i > 0 && t[i - 1] > x)) {
    throw "config key `thresholds`: expected ascending finite numbers";
  }
  if (!isCount(c.output_reserve)) throw "config key `output_reserve`: expected a whole number";
  if (!isCount(c.max_steps) || c.max_steps < 1) throw "config key `max_steps`: expected at least 1";
  return c;
}

// `score` as a whole percentage, clamped and rounded half up, as in the Rust version.
const percent = (score) => Math.floor(Math.min(Math.max(score, 0), 1) * 100 + 0.5);

function hintedTier(c, req) {
  if (c.hint_key === "") return undefined;
  const pair = req.metadata.find(([k]) => k === c.hint_key);
  if (pair === undefined || !/^[0-9]{1,3}$/.test(pair[1])) return undefined;
  return [parseInt(pair[1], 10), pair[1]];
}

// Byte order for ASCII ids, as Rust and Python compare them.
const cmpStr = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function plan(c, req, signals, models) {
  let score = signals.find((s) => s.name === c.signal)?.value;
  if (score !== undefined && !Number.isFinite(score)) score = undefined;
  let start = c.thresholds.filter((t) => (score ?? 0) >= t).length;
  let why = score !== undefined ? `score ${percent(score)}%` : `no ${c.signal}`;
  const hint = hintedTier(c, req);
  if (hint !== undefined) {
    start = hint[0];
    why = `hint ${c.hint_key}=${hint[1]}`;
  }

  const out = req.maxTokens ?? c.output_reserve;
  const need = req.inputTokens + out;
  let fit = models.filter((m) => m.contextWindow >= need);
  for (const [wanted, tag] of [[req.wantsJson, "json"], [req.hasTools, "tools"]]) {
    if (wanted && fit.some((m) => m.tags.includes(tag))) fit = fit.filter((m) => m.tags.includes(tag));
  }
  if (fit.length === 0) throw `no model fits ${need} tokens`;
  let note = "";
  let usable = fit.filter((m) => m.healthy);
  if (usable.length === 0) {
    usable = fit.slice();
    note = "; all unhealthy";
  }

  const cost = (m) => m.inputPrice * req.inputTokens + m.outputPrice * out;
  const byCostThenId = (a, b) => cost(a) - cost(b) || cmpStr(a.id, b.id);
  const up = usable.filter((m) => m.tier >= start).sort((a, b) => a.tier - b.tier || byCostThenId(a, b));
  const down = usable.filter((m) => m.tier < start).sort((a, b) => b.tier - a.tier || byCostThenId(a, b));
  const steps = up.concat(down).slice(0, c.max_steps).map((m) => m.id);
  const reason = `tiered: start tier ${start} (${why}); ${steps.length} of ${fit.length} models${note}`;
  return { steps, reason };
}

export function configure(text) {
  config = parseConfig(text);
}

export function route(req, signals, models) {
  return plan(config, req, signals, models);
}
