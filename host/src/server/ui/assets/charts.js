// Small SVG charts for the dashboard: time-series lines and stacked share bars.
// Drawn by hand (no library, no build step); each chart says in data-* attributes what it
// drew, which the browser test reads.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f6fde", "#e0793b", "#1f8a4c", "#9b51e0", "#c93a3a", "#0f9fb5", "#b7950b", "#6b7280"];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function fmt(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1000) return (v / 1000).toFixed(a >= 10000 ? 0 : 1) + "k";
    if (a >= 10) return v.toFixed(0);
    if (a >= 1) return v.toFixed(1);
    if (a >= 0.01) return v.toFixed(2);
    return v.toExponential(0);
  }

  function clock(t) {
    const d = new Date(t * 1000);
    return d.toTimeString().slice(0, 8);
  }

  // series: [{name, values: [number|null]}], xs: unix seconds (same length as values).
  function line(container, xs, series) {
    container.textContent = "";
    const width = Math.max(container.clientWidth || 0, 320), height = 180;
    const left = 44, right = 8, top = 8, bottom = 22;
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" }, container);
    let max = 0, points = 0;
    for (const s of series) for (const v of s.values) if (v != null) { max = Math.max(max, v); points++; }
    svg.setAttribute("data-points", points);
    svg.setAttribute("data-max", max);
    svg.setAttribute("data-series", series.length);
    if (xs.length === 0 || points === 0) {
      el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" }, svg).textContent = "no requests in this window";
      return svg;
    }
    const yMax = niceMax(max);
    const x0 = xs[0], x1 = xs[xs.length - 1] === x0 ? x0 + 1 : xs[xs.length - 1];
    const X = (t) => left + ((t - x0) / (x1 - x0)) * (width - left - right);
    const Y = (v) => top + (1 - v / yMax) * (height - top - bottom);
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4, y = Y(v);
      el("line", { x1: left, x2: width - right, y1: y, y2: y, class: "axis" }, svg);
      el("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, svg).textContent = fmt(v);
    }
    for (let i = 0; i < 4; i++) {
      const t = x0 + ((x1 - x0) * i) / 3;
      el("text", { x: X(t), y: height - 6, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle" }, svg).textContent = clock(t);
    }
    series.forEach((s, i) => {
      let d = "";
      let pen = false;
      s.values.forEach((v, j) => {
        if (v == null) { pen = false; return; }
        d += `${pen ? "L" : "M"}${X(xs[j]).toFixed(1)},${Y(v).toFixed(1)}`;
        pen = true;
      });
      el("path", { d, fill: "none", stroke: s.color || PALETTE[i % PALETTE.length], "stroke-width": 1.8, class: "series", "data-name": s.name }, svg);
    });
    if (series.length > 1) {
      const legend = document.createElement("div");
      legend.className = "legend";
      series.forEach((s, i) => {
        const item = document.createElement("span");
        const swatch = document.createElement("i");
        swatch.setAttribute("data-color", s.color || PALETTE[i % PALETTE.length]);
        swatch.style.background = s.color || PALETTE[i % PALETTE.length];
        item.append(swatch, s.name);
        legend.appendChild(item);
      });
      container.appendChild(legend);
    }
    return svg;
  }

  // segments: [{label, value, color}] drawn as shares of their sum.
  function shares(container, segments) {
    container.textContent = "";
    const total = segments.reduce((a, s) => a + s.value, 0);
    const svg = el("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", role: "img", "data-total": total }, container);
    let x = 0;
    segments.forEach((s, i) => {
      if (!(s.value > 0) || total === 0) return;
      const w = (s.value / total) * 100;
      const rect = el("rect", { x, y: 0, width: w, height: 10, fill: s.color || PALETTE[i % PALETTE.length], class: "share", "data-label": s.label, "data-value": s.value }, svg);
      el("title", {}, rect).textContent = `${s.label}: ${s.value} (${((s.value / total) * 100).toFixed(1)}%)`;
      x += w;
    });
    return svg;
  }

  window.Charts = { line, shares, PALETTE, fmt };
})();
