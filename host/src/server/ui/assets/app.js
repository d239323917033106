// The Switchyard dashboard: Overview, Decisions (live), Plugins, Rollout.
// Talks to /ui/api/* with the admin token, which stays in this tab's sessionStorage.
"use strict";
(function () {
  const TOKEN_KEY = "switchyard.adminToken";
  const $ = (id) => document.getElementById(id);
  const state = { page: null, timer: null, stream: null, rows: [], received: 0, models: {} };

  // ---- DOM helpers (text only: nothing from the server is parsed as HTML) ----
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c != null) node.append(c instanceof Node ? c : String(c));
    return node;
  }
  const pill = (text) => h("span", { class: `pill ${text}` }, text);
  const usd = (v) => (v == null ? "—" : v === 0 ? "0" : v < 0.01 ? v.toExponential(2) : v.toFixed(4));
  const ms = (v) => (v == null ? "—" : v < 10 ? v.toFixed(2) : v.toFixed(0));
  const time = (ms) => new Date(ms).toLocaleTimeString();

  // ---- API ----
  class Unauthorized extends Error {}
  async function api(path) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const response = await fetch(`/ui/api/${path}`, { headers: { Authorization: `Bearer ${token}` } });
    if (response.status === 401) throw new Unauthorized("the admin token was refused");
    const body = await response.json();
    if (!response.ok) throw new Error(body?.error?.message || response.statusText);
    return body;
  }

  // ---- sign in ----
  async function signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await api("overview?seconds=10");
      return true;
    } catch (error) {
      sessionStorage.removeItem(TOKEN_KEY);
      throw error;
    }
  }

  function showLogin(message) {
    stopPage();
    for (const page of document.querySelectorAll(".page")) page.hidden = true;
    $("nav").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    const error = $("login-error");
    error.hidden = !message;
    error.textContent = message || "";
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    try {
      await signIn(token);
      $("token").value = "";
      showApp();
    } catch (error) {
      showLogin(error instanceof Unauthorized ? "Wrong admin token: the proxy refused it." : `Cannot reach the proxy: ${error.message}`);
    }
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
  });

  function showApp() {
    $("login").hidden = true;
    $("nav").hidden = false;
    $("logout").hidden = false;
    route();
  }

  // ---- pages ----
  const pages = { overview: startOverview, decisions: startDecisions, plugins: startPlugins, rollout: startRollout };

  function stopPage() {
    clearInterval(state.timer);
    state.timer = null;
    if (state.stream) state.stream.abort();
    state.stream = null;
  }

  function route() {
    if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
    const name = (location.hash || "#overview").slice(1);
    const page = pages[name] ? name : "overview";
    stopPage();
    state.page = page;
    for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== `page-${page}`;
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page);
    pages[page]();
  }
  window.addEventListener("hashchange", route);

  async function guard(work) {
    try {
      await work();
      $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin("The admin token is no longer accepted.");
      if (error.name !== "AbortError") $("status").textContent = `error: ${error.message}`;
    }
  }

  // ---- Overview ----
  function startOverview() {
    const tick = () => guard(refreshOverview);
    tick();
    state.timer = setInterval(tick, 2000);
  }

  async function refreshOverview() {
    const data = await api("overview?seconds=300");
    if (state.page !== "overview") return;
    for (const m of data.models) state.models[m.id] = m;
    const t = data.totals;
    const saved = data.routes.reduce((a, r) => a + r.saved_usd, 0);
    $("tiles").replaceChildren(
      ...[
        ["Requests (5 min)", t.requests],
        ["Requests / s (10 s)", t.rps_10s.toFixed(1)],
        ["Error rate", `${(t.error_rate * 100).toFixed(1)} %`],
        ["p50 latency", `${ms(t.p50_ms)} ms`],
        ["p99 latency", `${ms(t.p99_ms)} ms`],
        ["Spend (5 min)", `$${usd(t.cost_usd)}`],
        ["Saved (since start)", `$${usd(saved)}`],
      ].map(([label, value]) => h("div", { class: "tile" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value))),
    );
    // Zero-fill the seconds without requests so rates fall to zero between bursts.
    const byT = new Map(data.series.map((p) => [p.t, p]));
    const xs = [];
    const first = data.series.length ? Math.max(data.series[0].t, data.now - data.window_s) : data.now;
    for (let s = first; s <= data.now; s++) xs.push(s);
    const at = (f) => xs.map((s) => (byT.has(s) ? f(byT.get(s)) : 0));
    const atOrGap = (f) => xs.map((s) => (byT.has(s) ? f(byT.get(s)) : null));
    Charts.line($("chart-rps"), xs, [{ name: "requests/s", values: at((p) => p.requests) }]);
    Charts.line($("chart-errors"), xs, [{ name: "errors/s", values: at((p) => p.errors), color: "#c93a3a" }]);
    Charts.line($("chart-latency"), xs, [
      { name: "p50", values: atOrGap((p) => p.p50_ms) },
      { name: "p99", values: atOrGap((p) => p.p99_ms), color: "#e0793b" },
    ]);
    const names = [...new Set(data.series.flatMap((p) => p.cost.map(([name]) => name)))].sort();
    Charts.line(
      $("chart-cost"),
      xs,
      names.map((name) => ({ name, values: at((p) => p.cost.filter(([n]) => n === name).reduce((a, [, v]) => a + v, 0)) })),
    );
    renderCascade(data.routes);
    renderSavings(data.routes);
  }

  function renderCascade(routes) {
    const box = $("cascade");
    if (!routes.length) return box.replaceChildren(h("p", { class: "hint" }, "No routed requests yet."));
    const tierColors = ["#1f8a4c", "#2f6fde", "#9b51e0", "#0f9fb5", "#6b7280"];
    box.replaceChildren(
      ...routes.map((r) => {
        const answered = Object.entries(r.answered_by_tier).map(([tier, n]) => ({ label: `tier ${tier}`, value: n, color: tierColors[Number(tier) % tierColors.length] }));
        const bar = h("div", { class: "bar", "data-route": r.route });
        Charts.shares(bar, [...answered, { label: "error", value: r.errors, color: "#c93a3a" }]);
        const pct = (n) => (r.requests ? `${((n / r.requests) * 100).toFixed(1)} %` : "—");
        const parts = answered.map((a) => `${a.label}: ${pct(a.value)}`);
        return h(
          "div",
          { class: "bar-row cascade-row", "data-route": r.route, "data-requests": r.requests },
          h("span", { class: "name" }, r.route),
          bar,
          h("span", { class: "note" }, `${parts.join(" · ")} · escalated ${pct(r.escalated)} · fell back ${pct(r.fell_back)}`),
        );
      }),
    );
  }

  function renderSavings(routes) {
    const rows = routes.map((r) =>
      h(
        "tr",
        { "data-route": r.route },
        h("td", {}, r.route),
        h("td", {}, usd(r.cost_usd)),
        h("td", {}, `${usd(r.ceiling_usd)}${r.ceiling_model ? ` (all on ${r.ceiling_model})` : ""}`),
        h("td", { class: "saved" }, usd(r.saved_usd)),
        h("td", {}, r.ceiling_usd > 0 ? `${((r.saved_usd / r.ceiling_usd) * 100).toFixed(1)} %` : "—"),
      ),
    );
    $("savings").replaceChildren(
      h("table", {}, h("thead", {}, h("tr", {}, ["Route", "Paid (USD)", "Most expensive model would cost", "Saved (USD)", "Saved"].map((c) => h("th", {}, c)))), h("tbody", {}, rows)),
    );
  }

  // ---- Decisions ----
  function filters() {
    const form = new FormData($("filters"));
    const out = {};
    for (const [k, v] of form.entries()) if (String(v).trim()) out[k] = String(v).trim();
    return out;
  }
  function matches(row, f) {
    return (!f.route || row.route === f.route) && (!f.model || row.model === f.model || row.requested_model === f.model) && (!f.outcome || row.status === f.outcome) && (!f.key || row.key === f.key);
  }

  function rowFor(d, fresh) {
    return h(
      "tr",
      { "data-id": d.id, class: fresh ? "fresh" : null, onclick: () => guard(() => showDetail(d.id)) },
      h("td", {}, time(d.ts_ms)),
      h("td", {}, d.route || "—"),
      h("td", {}, d.model || "—"),
      h("td", {}, pill(d.status), d.http_status === 200 ? null : ` ${d.http_status}`),
      h("td", {}, `${d.attempts}${d.escalations ? ` (${d.escalations} esc.)` : ""}${d.fallbacks ? ` (${d.fallbacks} fb.)` : ""}`),
      h("td", {}, usd(d.cost_usd)),
      h("td", {}, ms(d.latency_ms)),
      h("td", { class: "reason", title: d.reason }, d.reason),
    );
  }

  async function loadDecisions() {
    const query = new URLSearchParams({ ...filters(), limit: "60" });
    const data = await api(`decisions?${query}`);
    state.rows = data.decisions;
    $("decision-rows").replaceChildren(...state.rows.map((d) => rowFor(d, false)));
  }

  function startDecisions() {
    $("detail").hidden = true;
    guard(loadDecisions);
    $("filters").oninput = () => guard(loadDecisions);
    $("filters").onsubmit = (e) => e.preventDefault();
    connectStream();
  }

  // Server-sent events read with fetch (EventSource cannot send the Authorization header).
  async function connectStream() {
    const controller = new AbortController();
    state.stream = controller;
    const live = $("live");
    try {
      const response = await fetch("/ui/api/stream", { headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` }, signal: controller.signal });
      if (response.status === 401) return showLogin("The admin token is no longer accepted.");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          onEvent(event, live);
        }
      }
    } catch (error) {
      if (error.name === "AbortError") return;
    }
    if (state.stream === controller) {
      live.className = "live";
      live.textContent = "disconnected; retrying…";
      setTimeout(() => state.stream === controller && state.page === "decisions" && connectStream(), 2000);
    }
  }

  function onEvent(text, live) {
    let kind = "message", data = "";
    for (const line of text.split("\n")) {
      if (line.startsWith("event: ")) kind = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (kind === "ready") {
      live.className = "live on";
      live.textContent = `live · ${state.received} received`;
    } else if (kind === "decision") {
      const d = JSON.parse(data);
      state.received++;
      live.className = "live on";
      live.textContent = `live · ${state.received} received`;
      live.setAttribute("data-received", state.received);
      if (!matches(d, filters())) return;
      const body = $("decision-rows");
      body.prepend(rowFor(d, true));
      while (body.children.length > 60) body.lastChild.remove();
    } else if (kind === "lagged") {
      live.textContent = `live · skipped ${data} while behind`;
    }
  }

  async function showDetail(id) {
    const r = await api(`decisions/${encodeURIComponent(id)}`);
    const box = $("detail");
    const dl = (pairs) => h("dl", {}, pairs.filter(([, v]) => v != null && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    const plugin = (run) =>
      h("tr", {}, h("td", {}, run.plugin), h("td", {}, `${run.micros} µs`), h("td", {}, (run.signals || []).map((s) => `${s.name}=${Number(s.value).toFixed(3)}${s.label ? ` (${s.label})` : ""}`).join(", ") || (run.plan ? run.plan.join(" → ") : "")), h("td", { class: "error" }, run.error ? `${run.error} → ${run.fail_mode}` : ""));
    const attempts = r.attempts.map((a) =>
      h(
        "div",
        { class: `attempt ${a.outcome}`, "data-step": a.step },
        h("strong", {}, `Step ${a.step + 1}: ${a.model}`),
        " ",
        pill(a.outcome),
        dl([
          ["Provider / upstream", `${a.provider} / ${a.upstream_model}`],
          ["HTTP status", a.status],
          ["Error", a.error],
          ["Tokens", `${a.input_tokens} in, ${a.output_tokens} out${a.tokens_estimated ? " (estimated)" : ""}`],
          ["Cost (USD)", usd(a.cost_usd)],
          ["Time", `${ms(a.latency_ms)} ms, from +${(a.start_us / 1000).toFixed(2)} ms${a.buffered ? ", buffered for the gates" : ""}`],
        ]),
        a.gates.length
          ? h("table", { class: "gates" }, h("thead", {}, h("tr", {}, ["Gate", "Verdict", "Confidence / reason", "Time"].map((c) => h("th", {}, c)))), h("tbody", {}, a.gates.map((g) => h("tr", {}, h("td", {}, g.plugin), h("td", {}, pill(g.verdict)), h("td", {}, g.error || g.reason || (g.confidence != null ? Number(g.confidence).toFixed(3) : "")), h("td", {}, `${g.micros} µs`)))))
          : h("p", { class: "hint" }, "No gates judged this answer."),
      ),
    );
    box.replaceChildren(
      h("h3", {}, `Decision ${r.id}`),
      dl([
        ["Time", new Date(r.ts_ms).toLocaleString()],
        ["Asked for", r.requested_model],
        ["Route", r.route],
        ["Snapshot", r.snapshot],
        ["Key", r.key],
        ["Outcome", h("span", {}, pill(r.outcome.status), ` HTTP ${r.outcome.http_status}${r.outcome.model ? `, answered by ${r.outcome.model}` : ""}`)],
        ["Error", r.outcome.error],
        ["Cost (USD)", usd(r.cost_usd)],
        ["Latency", `${ms(r.latency_ms)} ms`],
        ["Trace", r.trace ? r.trace.trace_id : null],
      ]),
      h("h3", {}, "Signals"),
      r.classifiers.length ? h("table", { class: "signals" }, h("tbody", {}, r.classifiers.map(plugin))) : h("p", { class: "hint" }, "No classifiers ran."),
      h("h3", {}, "Plan"),
      dl([
        ["Steps", r.plan.steps.join(" → ")],
        ["Reason", r.plan.reason],
        ["Source", r.plan.source],
        ["Policy", r.policy ? `${r.policy.plugin} (${r.policy.micros} µs)${r.policy.error ? `: ${r.policy.error}` : ""}` : null],
      ]),
      h("h3", {}, "Attempts"),
      ...(attempts.length ? attempts : [h("p", { class: "hint" }, "No model was called.")]),
      h("details", {}, h("summary", {}, "The whole record (JSON)"), h("pre", {}, JSON.stringify(r, null, 2))),
    );
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  // ---- Plugins ----
  function startPlugins() {
    const tick = () => guard(refreshPlugins);
    tick();
    state.timer = setInterval(tick, 5000);
  }

  async function refreshPlugins() {
    const data = await api("plugins");
    if (state.page !== "plugins") return;
    const head = ["Plugin", "Kind", "Version (hash)", "Tier", "Source", "Signer", "State", "Failed calls", "Last error"];
    $("plugins").replaceChildren(
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))),
        h(
          "tbody",
          {},
          data.plugins.map((p) =>
            h(
              "tr",
              { "data-plugin": p.name },
              h("td", {}, p.name),
              h("td", {}, p.kind || "—"),
              h("td", {}, h("code", {}, (p.hash || "").slice(0, 12) || "—")),
              h("td", {}, p.tier ? `${p.tier}${p.tier_up && p.tier_up.state ? ` (${p.tier_up.state})` : ""}` : "—"),
              h("td", {}, h("code", {}, p.path || "—")),
              h("td", {}, "unsigned (local file)"),
              h("td", {}, pill(p.status)),
              h("td", {}, p.failed_calls ?? "—"),
              h("td", { class: "error" }, p.last_error || ""),
            ),
          ),
        ),
      ),
    );
    const history = data.reloads.history;
    $("reloads").replaceChildren(
      h("p", { class: "hint" }, `Serving snapshot ${data.snapshot}, loaded ${new Date(data.loaded_at_ms).toLocaleString()}; ${data.reloads.ok} reloads succeeded, ${data.reloads.failed} failed.`),
      history.length
        ? h(
            "table",
            {},
            h("thead", {}, h("tr", {}, ["Time", "Trigger", "Result", "Version", "Took", "What changed / error"].map((c) => h("th", {}, c)))),
            h(
              "tbody",
              {},
              history.map((a) =>
                h(
                  "tr",
                  {},
                  h("td", {}, new Date(a.at_ms).toLocaleString()),
                  h("td", {}, a.trigger),
                  h("td", {}, pill(a.ok ? "ok" : "error")),
                  h("td", {}, a.version ?? "—"),
                  h("td", {}, `${ms(a.duration_ms)} ms`),
                  h("td", {}, a.error || (a.plugins || []).map((c) => `${c.name}: ${c.change}`).join(", ")),
                ),
              ),
            ),
          )
        : h("p", { class: "hint" }, "No reload since the proxy started."),
    );
  }

  // ---- Rollout ----
  function startRollout() {
    guard(async () => {
      const data = await api("rollout");
      $("rollout").textContent = data.configured ? "" : data.message;
    });
  }

  // ---- start ----
  if (sessionStorage.getItem(TOKEN_KEY)) showApp();
  else showLogin();
})();
