// The Monitor tab: uPlot charts from the metrics API (polled while the tab is open), the
// live-tail WebSocket in a logs panel, and the recent-invocations table.
import "uplot/dist/uPlot.min.css";
import "./_monitor.css";
import uPlot from "uplot";
import { api } from "./_http.js";
import { logMessageNodes } from "./_logrecord.js";
import { LiveTailLines } from "./_livetail.mjs";

const root = document.getElementById("monitor-app");
const panel = root.closest('[role="tabpanel"]');
const fnName = root.dataset.function;
const logGroup = root.dataset.logGroup;
const $ = (id) => document.getElementById(id);
const POLL_MS = 15_000;
const MAX_LINES = 2000;

// ---- charts -------------------------------------------------------------------------------

const CHARTS = [
  { key: "invocations", title: "Invocations", series: [["Invocations", "Sum", "Invocations"]], total: true },
  {
    key: "duration",
    title: "Duration (ms)",
    series: [
      ["Duration", "Average", "Average"],
      ["Duration", "Maximum", "Maximum"],
      ["Duration", "p99", "p99"],
    ],
  },
  { key: "errors", title: "Errors and success rate", series: [["Errors", "Sum", "Errors"]], rate: true, total: true },
  { key: "throttles", title: "Throttles", series: [["Throttles", "Sum", "Throttles"]], total: true },
  { key: "concurrency", title: "Concurrent executions", series: [["ConcurrentExecutions", "Maximum", "Maximum"]] },
  {
    key: "async-events",
    title: "Async events",
    series: [
      ["AsyncEventsReceived", "Sum", "Received"],
      ["AsyncEventsDropped", "Sum", "Dropped"],
    ],
  },
  {
    key: "async-age",
    title: "Async event age (ms)",
    series: [
      ["AsyncEventAge", "Average", "Average"],
      ["AsyncEventAge", "Maximum", "Maximum"],
    ],
  },
  {
    key: "async",
    title: "Async delivery failures",
    series: [
      ["DeadLetterErrors", "Sum", "DeadLetterErrors"],
      ["DestinationDeliveryFailures", "Sum", "DestinationDeliveryFailures"],
    ],
    total: true,
  },
  { key: "cold", title: "Cold starts", series: [["ColdStarts", "Sum", "ColdStarts"]], total: true },
  {
    key: "iterator-age",
    title: "Iterator age (ms)",
    series: [
      ["IteratorAge", "Average", "Average"],
      ["IteratorAge", "Maximum", "Maximum"],
    ],
  },
];
const COLORS = ["#0972d3", "#d97706", "#7c3aed", "#037f0c", "#d91515", "#0e7c86", "#8a5a00", "#5f6b7a"];

// The per-source counts chart: one series per event source mapping of the function, for the
// count chosen in its header (mappings whose MetricsConfig lacks EventCount publish none).
const MAPPINGS = JSON.parse(document.getElementById("mon-mappings").textContent);
const SOURCE_COUNTS = [
  ["InvokedEventCount", "Invoked"],
  ["FailedInvokeEventCount", "Failed"],
  ["FilteredOutEventCount", "Filtered out"],
  ["DroppedEventCount", "Dropped"],
];
let sourceCount = SOURCE_COUNTS[0][0];
const SOURCES_CHART = {
  key: "sources",
  title: "Events per source",
  series: MAPPINGS.map((m) => [sourceCount, "Sum", m.counts ? m.label : `${m.label} (counts off)`, m.uuid]),
  total: true,
};

let range = { seconds: 3600 }; // or {start, end} in epoch seconds for a custom range
let pollTimer = null;
const plots = new Map();

function chartBox(chart) {
  const box = document.createElement("figure");
  box.className = "mon-chart";
  box.dataset.chart = chart.key;
  box.innerHTML = `<h4><span></span><span class="mon-total"></span></h4><div class="mon-plot"></div>`;
  box.querySelector("h4 span").textContent = chart.title;
  if (chart === SOURCES_CHART) box.querySelector("h4 span").after(sourceCountPicker());
  $("mon-charts").append(box);
  return box;
}

function sourceCountPicker() {
  const select = document.createElement("select");
  select.id = "mon-source-count";
  select.setAttribute("aria-label", "Count shown per source");
  for (const [metric, label] of SOURCE_COUNTS) select.append(new Option(label, metric, false, metric === sourceCount));
  select.addEventListener("change", () => {
    sourceCount = select.value;
    for (const series of SOURCES_CHART.series) series[0] = sourceCount;
    poll();
  });
  return select;
}

function plotOptions(chart, width) {
  const series = [{}];
  chart.series.forEach(([, , label], i) => series.push({ label, stroke: COLORS[i], width: 1.5, spanGaps: false, points: { show: true, size: 4 } }));
  const axes = [{}, { size: 50 }];
  const scales = { x: { time: true } };
  if (chart.rate) {
    series.push({ label: "Success rate (%)", stroke: COLORS[3], width: 1.5, scale: "%", points: { show: true, size: 4 } });
    axes.push({ side: 1, scale: "%", grid: { show: false }, size: 40 });
    scales["%"] = { range: [0, 100] };
  }
  return { width, height: 180, series, axes, scales, legend: { live: true } };
}

function isoParam(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function fetchSeries(metric, stat, start, end, mapping) {
  const series = mapping ? { mapping } : { function: fnName };
  const params = new URLSearchParams({ ...series, metric, stat, start: isoParam(start), end: isoParam(end) });
  const response = await fetch(`/_functory/api/metrics?${params}`, { credentials: "same-origin" });
  const data = await response.json();
  if (!response.ok) throw { code: data.error?.code, message: data.error?.message };
  return data;
}

async function refreshCharts() {
  const end = range.end ?? Math.floor(Date.now() / 1000);
  const start = range.start ?? end - range.seconds;
  const wanted = new Set();
  for (const chart of CHARTS) {
    for (const [metric, stat] of chart.series) wanted.add(`${metric}|${stat}`);
    if (chart.rate) wanted.add("Invocations|Sum");
  }
  const results = new Map();
  await Promise.all(
    [...wanted].map(async (key) => {
      const [metric, stat] = key.split("|");
      results.set(key, await fetchSeries(metric, stat, start, end));
    }),
  );
  if (MAPPINGS.length) {
    await Promise.all(
      SOURCES_CHART.series.map(async ([metric, stat, , mapping]) => {
        results.set(`${metric}|${stat}|${mapping}`, await fetchSeries(metric, stat, start, end, mapping));
      }),
    );
  }
  const base = results.get("Invocations|Sum");
  const xs = base.timestamps.map((t) => Date.parse(t) / 1000);
  for (const chart of MAPPINGS.length ? [...CHARTS, SOURCES_CHART] : CHARTS) {
    const data = [xs, ...chart.series.map(([metric, stat, , mapping]) => results.get(mapping ? `${metric}|${stat}|${mapping}` : `${metric}|${stat}`).values)];
    if (chart.rate) {
      const invocations = base.values;
      const errors = results.get("Errors|Sum").values;
      data.push(invocations.map((n, i) => (n ? Math.round(((n - (errors[i] || 0)) / n) * 1000) / 10 : null)));
    }
    drawChart(chart, data);
  }
  $("mon-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

function drawChart(chart, data) {
  let entry = plots.get(chart.key);
  if (!entry) {
    const box = chartBox(chart);
    const width = Math.max(300, box.clientWidth - 16);
    entry = { box, plot: new uPlot(plotOptions(chart, width), data, box.querySelector(".mon-plot")) };
    plots.set(chart.key, entry);
  } else {
    entry.plot.setData(data);
  }
  if (chart.total) {
    const total = data.slice(1, 1 + chart.series.length).flat().reduce((sum, v) => sum + (v || 0), 0);
    entry.box.dataset.total = String(total);
    if (chart === SOURCES_CHART) {
      entry.box.dataset.count = sourceCount;
      // Each source's own total, for readers of the page (and its tests).
      entry.box.dataset.totals = JSON.stringify(
        Object.fromEntries(chart.series.map(([, , , uuid], i) => [uuid, data[i + 1].reduce((sum, v) => sum + (v || 0), 0)])),
      );
    }
    entry.box.querySelector(".mon-total").textContent = `total ${total}`;
  } else {
    const peak = Math.max(0, ...data.slice(1).flat().filter((v) => v !== null));
    entry.box.querySelector(".mon-total").textContent = data[1].some((v) => v !== null) ? `max ${Math.round(peak * 100) / 100}` : "no data";
  }
}

window.addEventListener("resize", () => {
  for (const { box, plot } of plots.values()) plot.setSize({ width: Math.max(300, box.clientWidth - 16), height: 180 });
});

let generation = 0;

async function poll() {
  clearTimeout(pollTimer);
  const mine = ++generation;
  try {
    $("mon-error").hidden = true;
    await Promise.all([refreshCharts(), refreshInvocations()]);
  } catch (error) {
    $("mon-error").textContent = error.code ? `${error.code}: ${error.message}` : String(error.message || error);
    $("mon-error").hidden = false;
  }
  if (mine === generation && !panel.hidden) pollTimer = setTimeout(poll, POLL_MS);
}

for (const button of root.querySelectorAll(".mon-range")) {
  button.addEventListener("click", () => {
    for (const other of root.querySelectorAll(".mon-range")) other.setAttribute("aria-pressed", String(other === button));
    range = { seconds: Number(button.dataset.range) };
    poll();
  });
}

$("mon-apply").addEventListener("click", () => {
  const start = Date.parse($("mon-start").value);
  const end = $("mon-end").value ? Date.parse($("mon-end").value) : Date.now();
  const error = $("mon-error");
  if (Number.isNaN(start) || start >= end) {
    error.textContent = "Choose a start time before the end time.";
    error.hidden = false;
    return;
  }
  for (const other of root.querySelectorAll(".mon-range")) other.setAttribute("aria-pressed", "false");
  range = { start: Math.floor(start / 1000), end: Math.ceil(end / 1000) };
  poll();
});

// ---- live logs ----------------------------------------------------------------------------

const lines = $("mon-lines");
const filterInput = $("mon-filter");
const pauseButton = $("mon-pause");
const logState = $("mon-logstate");
let socket = null;
const tail = new LiveTailLines();
let paused = false;
let held = [];
let retryTimer = null;

function matches(text) {
  const needle = filterInput.value.trim().toLowerCase();
  return !needle || text.toLowerCase().includes(needle);
}

const REQUEST_ID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/;

function appendEvents(events) {
  const stick = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 20;
  for (const event of events) {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = new Date(event.timestamp).toISOString();
    time.textContent = new Date(event.timestamp).toLocaleTimeString();
    item.append(time, ...logMessageNodes(event.message));
    // A line naming its invocation (START/END/REPORT, the runtimes' own prefix) opens it:
    // its log lines and, when it was traced, its X-Ray timeline.
    const requestId = (event.message.match(REQUEST_ID) || [])[0];
    if (requestId) {
      item.classList.add("has-request");
      item.title = `Open invocation ${requestId}`;
      item.addEventListener("click", () => openInvocation(requestId));
    }
    item.dataset.text = event.message;
    item.hidden = !matches(event.message);
    lines.append(item);
  }
  while (lines.childElementCount > MAX_LINES) lines.firstElementChild.remove();
  if (stick) lines.scrollTop = lines.scrollHeight;
}

function connect() {
  clearTimeout(retryTimer);
  if (socket || panel.hidden) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // early=1: lines as they are printed, before they are stored (see _livetail.mjs).
  const params = new URLSearchParams({ group: logGroup, ...tail.resumeParams(Date.now() - 3600_000) });
  const current = new WebSocket(`${scheme}://${location.host}/ws/logs/?${params}`);
  socket = current;
  // A socket replaced meanwhile (the tab hidden and shown again) is no longer listened to.
  current.addEventListener("message", (message) => {
    if (socket !== current) return;
    const data = JSON.parse(message.data);
    if (data.type === "ready") logState.textContent = paused ? "Paused" : "Live";
    const { show, stored } = tail.receive(data);
    if (paused) held.push(...show);
    else if (show.length) appendEvents(show);
    // The invocations list is read from stored lines: refresh once a REPORT line is stored.
    const reported = (e) => e.message.startsWith("REPORT ") || e.message.includes('"type":"platform.report"');
    if (stored.some(reported)) refreshInvocations().catch(() => {});
  });
  current.addEventListener("close", (event) => {
    if (socket !== current) return;
    socket = null;
    tail.disconnected();
    // 4404: the log group does not exist until the function first logs; keep trying.
    logState.textContent = event.code === 4404 ? "Waiting for the first log lines…" : "Reconnecting…";
    if (!panel.hidden) retryTimer = setTimeout(connect, 3000);
  });
}

function disconnect() {
  clearTimeout(retryTimer);
  if (socket) {
    const closing = socket;
    socket = null;
    tail.disconnected();
    closing.close();
  }
}

pauseButton.addEventListener("click", () => {
  paused = !paused;
  pauseButton.setAttribute("aria-pressed", String(paused));
  pauseButton.textContent = paused ? "Resume" : "Pause";
  logState.textContent = paused ? "Paused" : "Live";
  if (!paused && held.length) {
    appendEvents(held);
    held = [];
  }
});

filterInput.addEventListener("input", () => {
  for (const item of lines.children) item.hidden = !matches(item.dataset.text);
});

// ---- recent invocations -------------------------------------------------------------------

const base = `/functions/${encodeURIComponent(fnName)}/monitor/invocations`;
let selected = null;

async function refreshInvocations() {
  const data = await api("GET", base);
  const body = $("mon-invocations");
  if (!data.invocations.length) return;
  body.replaceChildren(
    ...data.invocations.map((inv) => {
      const row = document.createElement("tr");
      row.tabIndex = 0;
      row.dataset.requestId = inv.request_id;
      row.setAttribute("aria-selected", String(inv.request_id === selected));
      const cells = [
        inv.request_id,
        new Date(inv.timestamp).toLocaleString(),
        inv.duration_ms === null ? "—" : `${inv.duration_ms.toFixed(2)} ms`,
        inv.status,
      ];
      for (const text of cells) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      row.lastElementChild.className = inv.status;
      row.addEventListener("click", () => openInvocation(inv.request_id));
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          openInvocation(inv.request_id);
        }
      });
      return row;
    }),
  );
}

async function openInvocation(requestId) {
  selected = requestId;
  for (const row of $("mon-invocations").children) row.setAttribute("aria-selected", String(row.dataset.requestId === requestId));
  $("mon-detail-id").textContent = requestId;
  $("mon-detail").hidden = false;
  try {
    const data = await api("GET", `${base}/${encodeURIComponent(requestId)}`);
    const detail = $("mon-detail-lines");
    detail.replaceChildren(
      ...data.lines.map((l) => {
        const line = document.createElement("div");
        line.append(...logMessageNodes(l.message));
        return line;
      }),
    );
    if (!data.lines.length) detail.textContent = "No lines found.";
  } catch (error) {
    $("mon-detail-lines").textContent = `${error.code}: ${error.message}`;
  }
  await showTrace(requestId);
}

// ---- an invocation's X-Ray trace ----------------------------------------------------------

async function showTrace(requestId) {
  const box = $("mon-trace");
  box.replaceChildren();
  box.hidden = true;
  let data;
  try {
    data = await api("GET", `${base}/${encodeURIComponent(requestId)}/trace`);
  } catch (error) {
    return; // no access to traces: the panel stays hidden
  }
  if (selected !== requestId || !data.trace_id) return;
  const heading = document.createElement("h5");
  heading.textContent = `Trace ${data.trace_id} · ${data.duration_ms.toFixed(2)} ms`;
  const list = document.createElement("ol");
  list.className = "mon-trace-rows";
  const total = Math.max(data.duration_ms, 0.001);
  for (const row of data.rows) {
    const item = document.createElement("li");
    if (row.fault || row.error || row.throttle) item.classList.add("failed");
    const name = document.createElement("span");
    name.className = "mon-trace-name";
    name.style.paddingLeft = `${row.depth}rem`;
    name.textContent = row.origin ? `${row.name} (${row.origin})` : row.name;
    const lane = document.createElement("span");
    lane.className = "mon-trace-lane";
    const bar = document.createElement("span");
    bar.className = "mon-trace-bar";
    bar.style.left = `${(100 * row.offset_ms) / total}%`;
    bar.style.width = `${Math.max(0.5, (100 * (row.duration_ms ?? 0)) / total)}%`;
    lane.append(bar);
    const took = document.createElement("span");
    took.className = "mon-trace-took";
    took.textContent = row.duration_ms === null ? "in progress" : `${row.duration_ms.toFixed(2)} ms`;
    item.append(name, lane, took);
    list.append(item);
  }
  box.append(heading, list);
  box.hidden = false;
}

// ---- open / close with the tab ------------------------------------------------------------

function onTab(key) {
  if (key === "monitor") {
    poll();
    connect();
  } else {
    clearTimeout(pollTimer);
    disconnect();
  }
}

document.addEventListener("functory:tab", (event) => onTab(event.detail));
if (!panel.hidden) onTab("monitor");
