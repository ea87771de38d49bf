// ranemu live dashboard: telemetry messages arrive over a WebSocket as {topic, data}; charts are uPlot.
"use strict";
(function () {
  const MAX_POINTS = 600; // per chart, the most recent
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                   "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"];
  const MAX_SERIES = 12;
  const state = { messages: 0, points: {}, topics: {} }; // read by tests and curious people
  window.ranemuDashboard = state;
  const charts = {};
  const chartsEl = document.getElementById("charts");

  function chart(id, title, yLabel, names, yRange) {
    let c = charts[id];
    if (c && c.names.join("\u0000") === names.join("\u0000")) return c;
    if (c) { c.u.destroy(); c.el.remove(); }
    const el = document.createElement("div");
    el.className = "chart";
    el.dataset.chart = id;
    const h = document.createElement("h3");
    h.textContent = title;
    el.appendChild(h);
    chartsEl.appendChild(el);
    const opts = {
      width: Math.max(300, el.clientWidth - 10), height: 230,
      scales: yRange ? { x: { time: false }, y: { range: yRange } } : { x: { time: false } },
      axes: [{ label: "simulated time (s)" }, { label: yLabel }],
      series: [{ label: "t (s)" }].concat(names.map((n, i) => ({
        label: n, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true }))),
    };
    const data = [[]].concat(names.map(() => []));
    c = charts[id] = { u: new uPlot(opts, data, el), data: data, names: names, el: el, dirty: false };
    state.points[id] = 0;
    return c;
  }

  function push(id, x, ys) {
    const c = charts[id];
    if (x === null || x === undefined) return;
    const d = c.data;
    if (d[0].length && x < d[0][d[0].length - 1]) { for (const a of d) a.length = 0; } // a reset world
    d[0].push(x);
    for (let i = 0; i < c.names.length; i++) d[i + 1].push(ys[i] === undefined ? null : ys[i]);
    if (d[0].length > MAX_POINTS) for (const a of d) a.shift();
    state.points[id] += 1;
    c.el.dataset.points = String(state.points[id]);
    c.dirty = true;
    schedule();
  }

  let drawing = false;
  function schedule() { if (!drawing) { drawing = true; requestAnimationFrame(draw); } }
  function draw() {
    drawing = false;
    for (const c of Object.values(charts)) if (c.dirty) { c.dirty = false; c.u.setData(c.data); }
  }
  window.addEventListener("resize", () => {
    for (const c of Object.values(charts)) c.u.setSize({ width: Math.max(300, c.el.clientWidth - 10), height: 230 });
  });

  const sum = (a) => a.reduce((s, v) => s + (v === null ? 0 : v), 0);
  function mean(a) {
    const v = a.filter((x) => x !== null);
    return v.length ? sum(v) / v.length : null;
  }
  const column = (m, j) => m.map((row) => row[j]);

  function onRan(d) {
    const slices = d.slices || [];
    const thr = d.throughput_bps || [];
    const cells = thr.map((_, k) => "cell " + k);
    chart("ran-slice-thr", "Throughput per slice, all cells (Mbit/s)", "Mbit/s", slices);
    push("ran-slice-thr", d.time, slices.map((_, j) => sum(column(thr, j)) / 1e6));
    chart("ran-cell-thr", "Throughput per cell, all slices (Mbit/s)", "Mbit/s", cells.slice(0, MAX_SERIES));
    push("ran-cell-thr", d.time, thr.slice(0, MAX_SERIES).map((row) => sum(row) / 1e6));
    const dly = d.delay_s || [];
    chart("ran-slice-delay", "Mean packet delay per slice (ms)", "ms", slices);
    push("ran-slice-delay", d.time, slices.map((_, j) => { const m = mean(column(dly, j)); return m === null ? null : m * 1e3; }));
    const sat = d.satisfaction || [];
    chart("ran-cell-sat", "SLA satisfaction per cell (mean over slices)", "fraction", cells.slice(0, MAX_SERIES), [0, 1.05]);
    push("ran-cell-sat", d.time, sat.slice(0, MAX_SERIES).map((row) => mean(row)));
  }

  function onStatus(d) {
    document.getElementById("scenario").textContent = "scenario " + d.scenario;
    document.getElementById("simtime").textContent = Number(d.time).toFixed(2);
    document.getElementById("clock").textContent = d.clock;
    const late = d.lateness_ms || {};
    document.getElementById("late99").textContent = late.n ? late.p99.toFixed(2) : "–";
    fill("agents", (d.agents || []).map((a) => [a.name, a.roles.join(", "), a.pid === null ? "" : a.pid]));
    fill("points", Object.entries(d.points || {}).map(([p, s]) =>
      [p, s.answered, s.fallbacks, s.stale, s.invalid, s.local]));
    const rtt = d.rtt_ms || {};
    chart("bridge-timing", "Agent round trip and clock lateness (ms, last 512 samples)", "ms",
          ["RTT p50", "RTT p99", "lateness p50", "lateness p99"]);
    push("bridge-timing", d.time, [rtt.n ? rtt.p50 : null, rtt.n ? rtt.p99 : null,
                                   late.n ? late.p50 : null, late.n ? late.p99 : null]);
  }

  function fill(id, rows) {
    const body = document.querySelector("#" + id + " tbody");
    const fresh = document.createElement("tbody");
    for (const r of rows) {
      const tr = document.createElement("tr");
      for (const v of r) { const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); }
      fresh.appendChild(tr);
    }
    body.replaceWith(fresh);
  }

  function onOther(topic, d) {
    // Any other topic (mec.kpi, a world of one's own): its numbers and number lists, one chart.
    const names = [], ys = [];
    for (const [k, v] of Object.entries(d)) {
      if (k === "time" || k === "step") continue;
      if (typeof v === "number" || v === null) { names.push(k); ys.push(v); }
      else if (Array.isArray(v) && v.every((x) => typeof x === "number" || x === null)) {
        v.forEach((x, i) => { names.push(k + "[" + i + "]"); ys.push(x); });
      }
    }
    if (!names.length) return;
    chart("topic-" + topic, topic, "value", names.slice(0, MAX_SERIES));
    push("topic-" + topic, d.time !== undefined ? d.time : d.step, ys.slice(0, MAX_SERIES));
  }

  function onMessage(ev) {
    const m = JSON.parse(ev.data);
    state.messages += 1;
    state.topics[m.topic] = (state.topics[m.topic] || 0) + 1;
    if (m.topic === "ran.kpi") onRan(m.data);
    else if (m.topic === "bridge.status") onStatus(m.data);
    else onOther(m.topic, m.data);
  }

  let delay = 500;
  function connect() {
    const conn = document.getElementById("conn");
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.onopen = () => { conn.textContent = "live"; conn.className = "ok"; delay = 500; };
    ws.onmessage = onMessage;
    ws.onclose = () => {
      conn.textContent = "disconnected (retrying)"; conn.className = "bad";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
