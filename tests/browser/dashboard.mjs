// Drives the dashboard in Debian's headless Chromium through puppeteer-core, as a person
// would: a wrong token is refused, each page loads against a proxy serving simulator
// traffic, the charts draw data, the live stream adds rows, a decision opens its story.
// Screenshots go to $OUT. Run by tests/tests/dashboard.rs, which starts the proxy.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

const BASE = process.env.BASE;
const TOKEN = process.env.TOKEN;
const OUT = process.env.OUT;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
};

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "switchyard-chromium-"));
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
  ],
});
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => m.type() === "error" && !/401/.test(m.text()) && problems.push(`console: ${m.text()}`));
const shot = (name) => page.screenshot({ path: path.join(OUT, name), fullPage: true });
const text = (selector) => page.$eval(selector, (e) => e.textContent);

try {
  // Sign in with a wrong token: refused, nothing kept.
  await page.goto(`${BASE}/ui`, { waitUntil: "load" });
  await page.waitForSelector("#login-form", { visible: true });
  await page.type("#token", "not-the-admin-token");
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#login-error", { visible: true });
  check((await text("#login-error")).includes("Wrong admin token"), "a wrong token is refused");
  check((await page.evaluate(() => sessionStorage.length)) === 0, "a refused token is not stored");
  check(await page.$eval("#nav", (e) => e.hidden), "nothing is shown to a refused token");
  await shot("login-refused.png");

  // The right token: the Overview, with data in every chart.
  await page.$eval("#token", (e) => (e.value = ""));
  await page.type("#token", TOKEN);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#nav", { visible: true });
  check((await page.evaluate(() => sessionStorage.getItem("switchyard.adminToken"))) === TOKEN, "the token is kept in session storage");
  await page.waitForFunction(() => Number(document.querySelector("#chart-rps svg")?.dataset.max) > 0, { timeout: 15000 });
  const chart = (id) =>
    page.$eval(id, (c) => {
      const svg = c.querySelector("svg");
      return { points: Number(svg.dataset.points), max: Number(svg.dataset.max), series: Number(svg.dataset.series), paths: c.querySelectorAll("path.series").length };
    });
  const rps = await chart("#chart-rps");
  check(rps.points > 0 && rps.max > 0 && rps.paths === 1, `requests/s chart has data (${JSON.stringify(rps)})`);
  const errors = await chart("#chart-errors");
  check(errors.max > 0, `errors/s chart shows the refused requests (${JSON.stringify(errors)})`);
  const latency = await chart("#chart-latency");
  check(latency.paths === 2 && latency.max > 0, `latency chart draws p50 and p99 (${JSON.stringify(latency)})`);
  const cost = await chart("#chart-cost");
  check(cost.series >= 2 && cost.max > 0, `cost chart has a line per route/model (${JSON.stringify(cost)})`);
  const cascade = await page.$eval('.cascade-row[data-route="auto"]', (row) => ({
    shares: [...row.querySelectorAll("rect.share")].map((r) => r.dataset.label),
    note: row.querySelector(".note").textContent,
  }));
  check(cascade.shares.includes("tier 0") && cascade.shares.includes("tier 1"), `cascade distribution for auto shows both tiers (${cascade.shares})`);
  check(/escalated [1-9]/.test(cascade.note), `the escalated share is shown (${cascade.note})`);
  const flaky = await page.$eval('.cascade-row[data-route="flaky"] .note', (e) => e.textContent);
  check(/fell back 100\.0 %/.test(flaky), `the fallback share is shown (${flaky})`);
  const saved = await page.$eval('#savings tr[data-route="auto"] .saved', (e) => Number(e.textContent));
  check(saved > 0, `cost saved against the most expensive model is positive (${saved})`);
  await shot("overview.png");

  // Decisions: the list, the live stream, filters, one decision's story.
  await page.click('nav a[data-page="decisions"]');
  await page.waitForFunction(() => document.querySelectorAll("#decision-rows tr").length > 0);
  await page.waitForFunction(() => Number(document.querySelector("#live").dataset.received || 0) >= 2, { timeout: 20000 });
  check((await text("#live")).startsWith("live"), "the live stream is connected and delivering");
  check((await page.$$("#decision-rows tr.fresh")).length > 0, "streamed decisions are added to the list");
  await shot("decisions.png");

  await page.select('#filters select[name="outcome"]', "error");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#decision-rows tr")];
    return rows.length > 0 && rows.every((r) => r.querySelector(".pill").textContent === "error");
  });
  check(true, "filtering on outcome=error shows only errors");
  await page.select('#filters select[name="outcome"]', "");
  await page.type('#filters input[name="route"]', "auto");
  await page.waitForFunction(() => [...document.querySelectorAll("#decision-rows tr")].some((r) => r.textContent.includes("esc.")));
  // The list re-renders as the filter is typed and as events arrive: click in the page.
  await page.waitForFunction(() => {
    const row = [...document.querySelectorAll("#decision-rows tr")].find((r) => r.textContent.includes("esc."));
    if (row && document.querySelector("#detail").hidden) row.click();
    return !document.querySelector("#detail").hidden && document.querySelector("#detail .attempt");
  }, { polling: 500, timeout: 15000 });
  await page.waitForSelector("#detail .attempt", { visible: true });
  const story = await page.$eval("#detail", (d) => ({
    steps: d.querySelectorAll(".attempt").length,
    verdicts: [...d.querySelectorAll(".gates .pill")].map((p) => p.textContent),
    signals: d.querySelector(".signals")?.textContent || "",
    text: d.textContent,
  }));
  check(story.steps === 2 && story.verdicts.includes("escalate") && story.verdicts.includes("accept"), `a decision opens its story: two attempts with gate verdicts (${story.verdicts})`);
  check(story.signals.includes("complexity"), "the story shows the classifier's signals");
  check(/Reason/.test(story.text) && /Tokens/.test(story.text) && /Cost/.test(story.text), "the story shows the plan's reason, tokens and cost");
  await shot("decision-detail.png");

  // Plugins and Rollout.
  await page.click('nav a[data-page="plugins"]');
  await page.waitForSelector("#plugins tr[data-plugin]");
  const plugins = await page.$$eval("#plugins tr[data-plugin]", (rows) => rows.map((r) => r.dataset.plugin).sort());
  check(JSON.stringify(plugins) === JSON.stringify(["cascade", "complexity", "sanity"]), `the Plugins page lists every plugin (${plugins})`);
  check((await text("#plugins")).includes("serving"), "each plugin's state is shown");
  await shot("plugins.png");
  await page.click('nav a[data-page="rollout"]');
  await page.waitForFunction(() => document.querySelector("#rollout").textContent.includes("not configured"));
  check(true, "the Rollout page says it is not configured");

  check(problems.length === 0, `no script errors (${problems.join("; ")})`);
  console.log("dashboard: all checks passed");
} catch (error) {
  console.error(error.stack || String(error));
  await shot("failure.png").catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
