// The Test tab: saved test events (CodeMirror JSON editor), templates, and the Test button.
import "./_test.css";
import { EditorView, basicSetup } from "codemirror";
import { json } from "@codemirror/lang-json";
import { api } from "./_http.js";
import { isDenied, setEnabled } from "./_permissions.js";

const root = document.getElementById("test-app");
const fn = encodeURIComponent(root.dataset.function);
const base = `/functions/${fn}/test`;
const $ = (id) => document.getElementById(id);
const saved = $("tt-saved");
const templateSelect = $("tt-template");
const nameInput = $("tt-name");
const sharedInput = $("tt-shared");
const deleteButton = $("tt-delete");
const busy = $("tt-busy");
const generalError = $("tt-error");

let events = JSON.parse($("tt-events").textContent);

const editor = new EditorView({
  doc: '{\n  "key1": "value1",\n  "key2": "value2",\n  "key3": "value3"\n}\n',
  extensions: [basicSetup, json(), EditorView.lineWrapping],
  parent: $("tt-editor"),
});

function setDoc(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2) + "\n";
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text } });
}

function clearErrors() {
  for (const el of root.querySelectorAll("[data-tt-error-for], #tt-error")) {
    el.hidden = true;
    el.textContent = "";
  }
}

// A service error, shown next to the control it is about (scoped to this tab).
function showError(error) {
  const target = (error.field && root.querySelector(`[data-tt-error-for="${error.field}"]`)) || generalError;
  target.textContent = error.code ? `${error.code}: ${error.message}` : error.message;
  target.hidden = false;
}

function renderSaved(selectedId) {
  saved.replaceChildren(new Option("— New event —", ""));
  const groups = [
    ["Private", events.filter((e) => !e.shared)],
    ["Shareable", events.filter((e) => e.shared)],
  ];
  for (const [label, list] of groups) {
    if (!list.length) continue;
    const group = document.createElement("optgroup");
    group.label = label;
    for (const event of list) {
      const suffix = event.shared && !event.mine ? ` (by ${event.owner})` : "";
      group.append(new Option(event.name + suffix, String(event.id)));
    }
    saved.append(group);
  }
  saved.value = selectedId ? String(selectedId) : "";
  setEnabled(deleteButton, Boolean(saved.value) && mayChange(current()));
}

function current() {
  return events.find((e) => String(e.id) === saved.value);
}

saved.addEventListener("change", () => {
  clearErrors();
  const event = current();
  setEnabled(deleteButton, Boolean(event) && mayChange(event));
  if (event) {
    nameInput.value = event.name;
    sharedInput.checked = event.shared;
    setDoc(event.payload);
  } else {
    nameInput.value = "";
    sharedInput.checked = false;
  }
});

templateSelect.addEventListener("change", async () => {
  clearErrors();
  if (!templateSelect.value) return;
  try {
    const data = await api("GET", `${base}/templates/${encodeURIComponent(templateSelect.value)}`);
    setDoc(data.payload);
    if (!saved.value && !nameInput.value) nameInput.value = templateSelect.value.replace(/[^A-Za-z0-9._-]/g, "");
  } catch (error) {
    showError(error);
  }
});

// The editor's text as JSON; shows the parse error next to the editor when it is not.
function payload() {
  try {
    return JSON.parse(editor.state.doc.toString() || "{}");
  } catch (error) {
    showError({ field: "payload", code: "InvalidJSON", message: `The event is not valid JSON: ${error.message}` });
    return undefined;
  }
}

// A shareable event needs more than a private one (console/permissions.py).
function mayChange(event) {
  return !isDenied($("tt-save")) && !(event && event.shared && isDenied(sharedInput));
}

async function save() {
  clearErrors();
  if (!mayChange(current()) || (sharedInput.checked && isDenied(sharedInput))) return;
  const body = payload();
  if (body === undefined) return;
  const data = { name: nameInput.value.trim(), payload: body, shared: sharedInput.checked };
  const event = current();
  try {
    const result = event
      ? await api("PUT", `${base}/events/${event.id}`, data)
      : await api("POST", `${base}/events`, data);
    events = events.filter((e) => e.id !== result.id).concat(result);
    events.sort((a, b) => a.name.localeCompare(b.name));
    renderSaved(result.id);
    busy.textContent = `Saved “${result.name}”.`;
  } catch (error) {
    showError(error);
  }
}

async function remove() {
  clearErrors();
  const event = current();
  if (!event || !confirm(`Delete the test event “${event.name}”?`)) return;
  try {
    await api("DELETE", `${base}/events/${event.id}`);
    events = events.filter((e) => e.id !== event.id);
    renderSaved();
    nameInput.value = "";
    sharedInput.checked = false;
    busy.textContent = `Deleted “${event.name}”.`;
  } catch (error) {
    showError(error);
  }
}

function fmt(value, unit) {
  return value === null || value === undefined ? "—" : `${value}${unit}`;
}

function showResult(result) {
  const status = $("tt-status");
  status.textContent = result.status === "succeeded" ? "succeeded" : `failed (${result.error_type || "Unhandled"})`;
  status.className = result.status === "succeeded" ? "ok" : "failed";
  $("tt-response").textContent =
    typeof result.response === "string" ? result.response : JSON.stringify(result.response, null, 2);
  const s = result.summary;
  $("tt-sum-request_id").textContent = s.request_id;
  $("tt-sum-duration_ms").textContent = fmt(s.duration_ms, " ms");
  $("tt-sum-billed_ms").textContent = fmt(s.billed_ms, " ms");
  $("tt-sum-memory_mb").textContent = fmt(s.memory_mb, " MB");
  $("tt-sum-max_memory_mb").textContent = fmt(s.max_memory_mb, " MB");
  $("tt-sum-init_duration_ms").textContent = fmt(s.init_duration_ms, " ms");
  $("tt-log").textContent = result.log;
  $("tt-result").hidden = false;
}

async function run() {
  clearErrors();
  const body = payload();
  if (body === undefined) return;
  const button = $("tt-run");
  if (isDenied(button)) return;
  button.disabled = true;
  busy.textContent = "Running…";
  try {
    showResult(await api("POST", `${base}/invoke`, { payload: body }));
    busy.textContent = "";
  } catch (error) {
    busy.textContent = "";
    showError(error);
  } finally {
    setEnabled(button, true);
  }
}

$("tt-save").addEventListener("click", save);
$("tt-delete").addEventListener("click", remove);
$("tt-run").addEventListener("click", run);
root.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === "s") {
    event.preventDefault();
    save();
  }
});
renderSaved();
