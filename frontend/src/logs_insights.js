// Logs Insights: run a query over the chosen log groups, poll its results, show a table
// (and a chart for stats by bin()).
import "uplot/dist/uPlot.min.css";
import "./_insights.css";
import uPlot from "uplot";
import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { api, showError } from "./_http.js";

const $ = (id) => document.getElementById(id);
const app = $("li-app");
const POLL_MS = 400;

let rangeSeconds = 3600;
let current = null; // the running query's id
let plot = null;

const run = () => { runQuery(); return true; };
const editor = new EditorView({
  parent: $("li-editor"),
  doc: $("li-query").value,
  extensions: [keymap.of([{ key: "Mod-Enter", run }]), basicSetup, EditorView.lineWrapping],
});

for (const button of document.querySelectorAll(".li-range-btn")) {
  button.addEventListener("click", () => {
    rangeSeconds = Number(button.dataset.range);
    for (const other of document.querySelectorAll(".li-range-btn")) other.setAttribute("aria-pressed", String(other === button));
  });
}

function chosenGroups() {
  const select = $("li-groups");
  return select ? [...select.selectedOptions].map((option) => option.value) : [];
}

function setStatus(text) { $("li-status").textContent = text; }

function url(template, id) { return app.dataset[template].replace("QUERY_ID", encodeURIComponent(id)); }

async function runQuery() {
  $("li-error").hidden = true;
  const groups = chosenGroups();
  if (!groups.length) {
    showError({ message: "Choose at least one log group." }, $("li-error"));
    return;
  }
  const end = Math.floor(Date.now() / 1000);
  $("li-run").disabled = true;
  setStatus("Starting…");
  try {
    const started = await api("POST", app.dataset.startUrl, {
      logGroupNames: groups, startTime: end - rangeSeconds, endTime: end, queryString: editor.state.doc.toString(),
    });
    current = started.queryId;
    $("li-stop").hidden = false;
    poll(current);
  } catch (error) {
    showError(error, $("li-error"));
    setStatus("");
    $("li-run").disabled = false;
  }
}

async function poll(id) {
  if (id !== current) return;
  let answer;
  try {
    answer = await api("GET", url("queryUrl", id));
  } catch (error) {
    showError(error, $("li-error"));
    finish();
    return;
  }
  if (answer.status === "Scheduled" || answer.status === "Running") {
    setStatus(`${answer.status}…`);
    setTimeout(() => poll(id), POLL_MS);
    return;
  }
  const stats = answer.statistics || {};
  setStatus(`${answer.status}: ${answer.results.length} rows, ${stats.recordsMatched ?? 0} of ${stats.recordsScanned ?? 0} records matched`);
  app.dataset.status = answer.status;
  show(answer.results);
  finish();
}

function finish() {
  current = null;
  $("li-run").disabled = false;
  $("li-stop").hidden = true;
}

$("li-run").addEventListener("click", runQuery);
$("li-stop").addEventListener("click", async () => {
  if (!current) return;
  const id = current;
  current = null;
  try { await api("POST", url("stopUrl", id)); } catch (error) { showError(error, $("li-error")); }
  setStatus("Cancelled");
  finish();
});

function show(rows) {
  const columns = [];
  for (const row of rows) for (const cell of row) if (cell.field !== "@ptr" && !columns.includes(cell.field)) columns.push(cell.field);
  const head = $("li-head");
  head.replaceChildren(...columns.map((name) => { const th = document.createElement("th"); th.textContent = name; return th; }));
  const body = $("li-rows");
  body.replaceChildren(...rows.map((row) => {
    const values = Object.fromEntries(row.map((cell) => [cell.field, cell.value]));
    const tr = document.createElement("tr");
    for (const name of columns) {
      const td = document.createElement("td");
      td.textContent = values[name] ?? "";
      tr.append(td);
    }
    return tr;
  }));
  $("li-table").hidden = rows.length === 0;
  if (!rows.length) setStatus(`${$("li-status").textContent} (no rows)`);
  chart(columns, rows);
}

// A chart when the rows are a time series: a bin() column (timestamps) and numbers.
function chart(columns, rows) {
  const box = $("li-chart");
  if (plot) { plot.destroy(); plot = null; }
  box.hidden = true;
  const binColumn = columns.find((name) => /^bin\(/.test(name));
  const stamp = (text) => Date.parse(text.replace(" ", "T") + "Z") / 1000;
  const timeColumn = binColumn || columns.find((name) => rows.every((row) => row.some((c) => c.field === name && !Number.isNaN(stamp(c.value)) && /^\d{4}-/.test(c.value))));
  if (!timeColumn || rows.length < 1) return;
  const series = columns.filter((name) => name !== timeColumn && rows.every((row) => {
    const cell = row.find((c) => c.field === name);
    return !cell || !Number.isNaN(Number(cell.value));
  }));
  if (!series.length) return;
  const sorted = [...rows].map((row) => Object.fromEntries(row.map((c) => [c.field, c.value])))
    .sort((a, b) => stamp(a[timeColumn]) - stamp(b[timeColumn]));
  const data = [sorted.map((row) => stamp(row[timeColumn])), ...series.map((name) => sorted.map((row) => (row[name] === undefined ? null : Number(row[name]))))];
  box.hidden = false;
  const colors = ["#0b6bcb", "#d9480f", "#2b8a3e", "#862e9c"];
  plot = new uPlot({
    width: Math.max(300, box.clientWidth || 600), height: 200,
    series: [{}, ...series.map((name, i) => ({ label: name, stroke: colors[i % colors.length], width: 2, points: { show: true } }))],
    axes: [{}, {}],
  }, data, box);
  box.dataset.points = String(data[0].length);
}
