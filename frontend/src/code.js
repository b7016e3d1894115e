// The function page's Code tab: a CodeMirror 6 editor over the package's files, a file
// tree (create, rename, delete files and folders), several open tabs, Ctrl/Cmd+S and
// Deploy (the server builds the zip and calls UpdateFunctionCode's service).
import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { StreamLanguage } from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { ruby } from "@codemirror/legacy-modes/mode/ruby";
import { api, showError } from "./_http.js";
import { isDenied, setEnabled } from "./_permissions.js";

const root = document.getElementById("code-app");
const $ = (id) => document.getElementById(id);
const treeList = $("code-tree");
const tabBar = $("code-tabs");
const dirtyMarker = $("code-dirty");
const deployButton = $("code-deploy");
const status = $("code-status");
const codeError = $("code-error");

const files = new Map(); // path -> {state: EditorState, executable}
const folders = new Set(); // explicit folders (empty ones survive a deploy)
let openTabs = [];
let active = null;
let selectedFolder = "";
let deployed = ""; // snapshot of what is deployed
let codeSha256 = null;
let view = null;
let loaded = false;

function languageFor(path) {
  const name = path.split("/").pop();
  const ext = name.includes(".") ? name.split(".").pop().toLowerCase() : "";
  if (ext === "py") return python();
  if (["js", "mjs", "cjs", "ts", "jsx"].includes(ext)) return javascript({ typescript: ext === "ts" });
  if (ext === "json") return json();
  if (ext === "rb" || name === "Gemfile") return StreamLanguage.define(ruby);
  if (ext === "sh" || ext === "bash" || name === "bootstrap" || ext === "") return StreamLanguage.define(shell);
  return [];
}

const saveKeys = keymap.of([
  { key: "Mod-s", preventDefault: true, run: () => { deploy(); return true; } },
  indentWithTab,
]);

function newState(path, text) {
  return EditorState.create({
    doc: text,
    extensions: [
      basicSetup,
      saveKeys,
      languageFor(path),
      EditorView.updateListener.of((update) => { if (update.docChanged) markDirty(); }),
    ],
  });
}

function snapshot() {
  const list = [...files.entries()]
    .map(([path, file]) => [path, file.state.doc.toString(), Boolean(file.executable)])
    .sort((a, b) => a[0].localeCompare(b[0]));
  return JSON.stringify({ files: list, folders: [...allFolders()].sort() });
}

function markDirty() {
  const dirty = loaded && snapshot() !== deployed;
  dirtyMarker.hidden = !dirty;
  setEnabled(deployButton, dirty);
  root.dataset.dirty = String(dirty);
  renderTabs();
}

function allFolders() {
  const result = new Set(folders);
  for (const path of files.keys()) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) result.add(parts.slice(0, i).join("/"));
  }
  return result;
}

// ---- tree -------------------------------------------------------------------------------

function buildTree() {
  const tree = { folders: new Map(), files: [] };
  const node = (path) => {
    let current = tree;
    if (!path) return current;
    for (const part of path.split("/")) {
      if (!current.folders.has(part)) current.folders.set(part, { folders: new Map(), files: [] });
      current = current.folders.get(part);
    }
    return current;
  };
  for (const folder of allFolders()) node(folder);
  for (const path of files.keys()) {
    const parts = path.split("/");
    node(parts.slice(0, -1).join("/")).files.push(parts.at(-1));
  }
  return tree;
}

function row(label, kind, path, depth) {
  const li = document.createElement("li");
  li.setAttribute("role", "treeitem");
  li.dataset.path = path;
  li.dataset.kind = kind;
  const main = document.createElement("button");
  main.type = "button";
  main.className = "tree-item" + (path === active && kind === "file" ? " active" : "") +
    (kind === "folder" && path === selectedFolder ? " selected" : "");
  main.style.paddingLeft = `${0.4 + depth * 0.9}rem`;
  main.textContent = (kind === "folder" ? "▾ " : "") + label;
  main.title = path;
  main.addEventListener("click", () => {
    if (kind === "file") { selectedFolder = path.split("/").slice(0, -1).join("/"); openFile(path); }
    else { selectedFolder = selectedFolder === path ? "" : path; renderTree(); }
  });
  li.append(main);
  for (const [symbol, name, action] of [["✎", "Rename", () => startRename(kind, path)], ["🗑", "Delete", () => remove(kind, path)]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "tree-action";
    button.textContent = symbol;
    button.setAttribute("aria-label", `${name} ${path}`);
    button.title = `${name} ${path}`;
    button.addEventListener("click", action);
    li.append(button);
  }
  return li;
}

function renderTree() {
  treeList.replaceChildren();
  const walk = (node, prefix, depth) => {
    for (const name of [...node.folders.keys()].sort()) {
      const path = prefix ? `${prefix}/${name}` : name;
      treeList.append(row(name, "folder", path, depth));
      walk(node.folders.get(name), path, depth + 1);
    }
    for (const name of node.files.sort()) {
      const path = prefix ? `${prefix}/${name}` : name;
      treeList.append(row(name, "file", path, depth));
    }
  };
  walk(buildTree(), "", 0);
}

// An inline name field at the top of the tree: Enter applies, Escape cancels.
function askName(initial, label, apply) {
  treeList.querySelector(".tree-input")?.remove();
  const li = document.createElement("li");
  li.className = "tree-input";
  const input = document.createElement("input");
  input.value = initial;
  input.setAttribute("aria-label", label);
  input.placeholder = label;
  const error = document.createElement("p");
  error.className = "error-inline";
  error.hidden = true;
  li.append(input, error);
  treeList.prepend(li);
  input.focus();
  input.setSelectionRange(initial.length, initial.length);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { li.remove(); return; }
    if (event.key !== "Enter") return;
    event.preventDefault();
    const message = apply(input.value.trim().replace(/^\/+|\/+$/g, ""));
    if (message) { error.textContent = message; error.hidden = false; } else li.remove();
  });
}

function badPath(path) {
  if (!path) return "Enter a name.";
  if (path.split("/").some((part) => !part || part === "." || part === "..")) return "That is not a valid path.";
  if (files.has(path) || allFolders().has(path)) return `${path} already exists.`;
  return "";
}

function startCreate(kind) {
  const prefix = selectedFolder ? `${selectedFolder}/` : "";
  askName(prefix, kind === "file" ? "New file path" : "New folder path", (path) => {
    const problem = badPath(path);
    if (problem) return problem;
    if (kind === "file") {
      files.set(path, { state: newState(path, ""), executable: path === "bootstrap" });
      openFile(path);
    } else {
      folders.add(path);
      selectedFolder = path;
      renderTree();
    }
    markDirty();
    return "";
  });
}

function startRename(kind, path) {
  askName(path, `Rename ${path} to`, (target) => {
    if (target === path) return "";
    const problem = badPath(target);
    if (problem) return problem;
    const moves = [];
    if (kind === "file") moves.push([path, target]);
    else {
      for (const file of files.keys()) if (file.startsWith(`${path}/`)) moves.push([file, target + file.slice(path.length)]);
      for (const folder of [...folders]) {
        if (folder === path || folder.startsWith(`${path}/`)) { folders.delete(folder); folders.add(target + folder.slice(path.length)); }
      }
    }
    for (const [from, to] of moves) {
      const file = files.get(from);
      files.delete(from);
      // A new state so the language follows the new extension; the text is kept.
      files.set(to, { ...file, state: newState(to, file.state.doc.toString()) });
      openTabs = openTabs.map((tab) => (tab === from ? to : tab));
      if (active === from) active = to;
    }
    if (active) showFile(active);
    renderTree();
    markDirty();
    return "";
  });
}

function remove(kind, path) {
  const what = kind === "file" ? `the file ${path}` : `the folder ${path} and everything in it`;
  if (!window.confirm(`Delete ${what}?`)) return;
  const doomed = kind === "file" ? [path] : [...files.keys()].filter((f) => f.startsWith(`${path}/`));
  for (const file of doomed) { files.delete(file); closeTab(file, false); }
  if (kind === "folder") for (const folder of [...folders]) if (folder === path || folder.startsWith(`${path}/`)) folders.delete(folder);
  if (selectedFolder === path) selectedFolder = "";
  renderTree();
  markDirty();
}

// ---- tabs and the editor ----------------------------------------------------------------

function stash() {
  if (view && active && files.has(active)) files.get(active).state = view.state;
}

function showFile(path) {
  active = path;
  view.setState(files.get(path).state);
  renderTabs();
  renderTree();
}

function openFile(path) {
  stash();
  if (!openTabs.includes(path)) openTabs.push(path);
  showFile(path);
  view.focus();
}

function closeTab(path, render = true) {
  stash();
  const index = openTabs.indexOf(path);
  if (index < 0) return;
  openTabs.splice(index, 1);
  if (active === path) {
    const next = openTabs[Math.min(index, openTabs.length - 1)];
    if (next) showFile(next);
    else { active = null; view.setState(EditorState.create({ doc: "", extensions: [EditorState.readOnly.of(true), EditorView.editable.of(false)] })); }
  }
  if (render) { renderTabs(); renderTree(); }
}

function renderTabs() {
  tabBar.replaceChildren();
  for (const path of openTabs) {
    const tab = document.createElement("div");
    tab.className = "code-tab" + (path === active ? " active" : "");
    const open = document.createElement("button");
    open.type = "button";
    open.setAttribute("role", "tab");
    open.setAttribute("aria-selected", String(path === active));
    open.textContent = path.split("/").pop();
    open.title = path;
    open.addEventListener("click", () => { stash(); showFile(path); });
    const close = document.createElement("button");
    close.type = "button";
    close.className = "code-tab-close";
    close.textContent = "×";
    close.setAttribute("aria-label", `Close ${path}`);
    close.addEventListener("click", () => closeTab(path));
    tab.append(open, close);
    tabBar.append(tab);
  }
}

// ---- server -----------------------------------------------------------------------------

function showProperties(props) {
  codeSha256 = props.codeSha256;
  $("prop-sha").textContent = props.codeSha256;
  $("prop-size").textContent = `${props.codeSize.toLocaleString()} bytes`;
  $("prop-modified").textContent = props.lastModified;
  $("code-download").href = props.downloadUrl;
}

async function load() {
  if (loaded) return;
  let data;
  try {
    data = await api("GET", root.dataset.api);
  } catch (error) {
    $("code-loading").hidden = true;
    showError(error, codeError);
    return;
  }
  $("code-loading").hidden = true;
  showProperties(data);
  if (data.reason) {
    $("code-too-large-reason").textContent = data.reason;
    $("code-too-large").hidden = false;
    return;
  }
  for (const folder of data.folders) folders.add(folder);
  for (const file of data.files) files.set(file.path, { state: newState(file.path, file.content), executable: file.executable });
  $("code-main").hidden = false;
  view = new EditorView({ parent: $("code-editor"), state: EditorState.create({ doc: "" }) });
  const handlerModule = ($("handler-input").value.split(".")[0] || "").toLowerCase();
  const first = [...files.keys()].find((p) => p.split(".")[0].toLowerCase() === handlerModule) || [...files.keys()].sort()[0];
  loaded = true;
  deployed = snapshot();
  renderTree();
  if (first) openFile(first);
  markDirty();
}

async function deploy() {
  if (!loaded || deployButton.dataset.busy || isDenied(deployButton)) return;
  stash();
  if (snapshot() === deployed) { status.textContent = "No changes to deploy."; return; }
  codeError.hidden = true;
  deployButton.dataset.busy = "1";
  deployButton.disabled = true;
  status.textContent = "Deploying…";
  const sent = snapshot();
  const body = {
    codeSha256,
    files: [...files.entries()].map(([path, file]) => ({ path, content: file.state.doc.toString(), executable: file.executable })),
    // Only empty folders need their own zip entry; the others come with their files.
    folders: [...folders].filter((folder) => ![...files.keys()].some((path) => path.startsWith(`${folder}/`))),
  };
  try {
    const props = await api("POST", root.dataset.api, body);
    showProperties(props);
    deployed = sent;
    status.textContent = `Deployed at ${new Date().toLocaleTimeString()}.`;
  } catch (error) {
    status.textContent = "";
    showError(error, codeError);
  } finally {
    delete deployButton.dataset.busy;
    markDirty();
  }
}

$("code-new-file").addEventListener("click", () => startCreate("file"));
$("code-new-folder").addEventListener("click", () => startCreate("folder"));
deployButton.addEventListener("click", deploy);
// Ctrl/Cmd+S anywhere in the Code tab (the editor has its own binding too).
root.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") { event.preventDefault(); deploy(); }
});
window.addEventListener("beforeunload", (event) => {
  if (root.dataset.dirty === "true") event.preventDefault();
});

$("runtime-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  for (const element of form.querySelectorAll(".error-inline")) element.hidden = true;
  $("runtime-status").textContent = "Saving…";
  try {
    const props = await api("POST", root.dataset.runtimeApi, { runtime: form.elements.runtime.value, handler: form.elements.handler.value });
    showProperties(props);
    $("runtime-status").textContent = "Saved.";
  } catch (error) {
    $("runtime-status").textContent = "";
    showError(error, $("runtime-error"));
  }
});

document.addEventListener("functory:tab", (event) => { if (event.detail === "code") load(); });
if (!root.closest("[hidden]")) load();
