// The configuration tab's Function URL section: create, edit and delete the function's URLs
// (through the console endpoints that call the API's services), copy a URL, and call one
// from the page. The overview's triggers and the Triggers panel follow the URLs (an event).
import { api } from "./_http.js";
import { clearErrors, el, fieldError, submitting } from "./_forms.js";
import { guard } from "./_permissions.js";

const section = document.querySelector("[data-urls]");
const state = JSON.parse(document.getElementById("function-url-state").textContent);
const base = `/functions/${encodeURIComponent(state.function)}/configuration/urls`;
const list = section.querySelector("[data-url-list]");
const notice = section.querySelector("[data-url-notice]");
const form = section.querySelector('[data-form="url"]');
const callForm = section.querySelector('[data-form="url-call"]');
let urls = state.urls;
let editing = null; // the qualifier of the URL being edited, null when creating

const splitList = (text) => text.split(",").map((item) => item.trim()).filter(Boolean);

async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-HTTP consoles on another host have no Clipboard API.
  const area = el("textarea", { readonly: "", class: "sr-only" });
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

function corsSummary(cors) {
  if (!cors || !Object.keys(cors).length) return "Not configured";
  const parts = [];
  if (cors.AllowOrigins?.length) parts.push(`origins ${cors.AllowOrigins.join(", ")}`);
  if (cors.AllowMethods?.length) parts.push(`methods ${cors.AllowMethods.join(", ")}`);
  if (cors.AllowHeaders?.length) parts.push(`headers ${cors.AllowHeaders.join(", ")}`);
  if (cors.ExposeHeaders?.length) parts.push(`expose ${cors.ExposeHeaders.join(", ")}`);
  if (cors.MaxAge !== undefined) parts.push(`max age ${cors.MaxAge} s`);
  if (cors.AllowCredentials) parts.push("credentials allowed");
  return parts.join("; ") || "Configured (nothing allowed)";
}

// The Triggers panel (triggers.js) lists the URLs too, and the overview's triggers line.
function renderTriggers() {
  document.dispatchEvent(new CustomEvent("functory:urls", { detail: urls }));
}

function renderUrls() {
  list.replaceChildren();
  for (const url of urls) {
    const status = el("span", { class: "saved", role: "status" });
    const copyButton = el("button", { type: "button", class: "link", text: "Copy", "aria-label": `Copy the URL of ${url.Qualifier}` });
    copyButton.addEventListener("click", async () => {
      try {
        await copy(url.FunctionUrl);
        status.textContent = "Copied";
      } catch {
        status.textContent = "Copy failed: select the URL and copy it";
      }
      setTimeout(() => (status.textContent = ""), 4000);
    });
    const edit = guard(el("button", { type: "button", class: "link", text: "Edit", "aria-label": `Edit the URL of ${url.Qualifier}` }), "update_url");
    edit.addEventListener("click", () => openForm(url));
    const remove = guard(el("button", { type: "button", class: "link danger", text: "Delete", "aria-label": `Delete the URL of ${url.Qualifier}` }), "delete_url");
    remove.addEventListener("click", async () => {
      const warning = url.AuthType === "NONE" ? " The public-access statements of its policy are removed too." : "";
      if (!window.confirm(`Delete the function URL of ${url.Qualifier}? Clients calling it get 404 from now on.${warning}`)) return;
      clearErrors(section);
      try {
        applied(await api("DELETE", `${base}/${encodeURIComponent(url.Qualifier)}`), url.Qualifier, `Deleted the URL of ${url.Qualifier}.`);
      } catch (error) {
        fieldError(section, error, section.querySelector('[data-error-for="url"]'));
      }
    });
    list.append(el("div", { class: "url-item", "data-url-qualifier": url.Qualifier },
      el("div", { class: "url-line" },
        el("strong", { text: url.Qualifier }),
        el("a", { href: url.FunctionUrl, target: "_blank", rel: "noopener noreferrer", text: url.FunctionUrl, "data-function-url": "" }),
        copyButton, status, edit, remove),
      el("dl", {},
        el("dt", { text: "Auth type" }), el("dd", { text: url.AuthType }),
        el("dt", { text: "Invoke mode" }), el("dd", { text: url.InvokeMode }),
        el("dt", { text: "CORS" }), el("dd", { text: corsSummary(url.Cors) }))));
  }
  if (!urls.length) list.append(el("p", { class: "muted", text: "No function URL: the function is only called through the Invoke API." }));
  // One URL per qualifier: offer creation only while a qualifier has none.
  const taken = new Set(urls.map((url) => url.Qualifier));
  section.querySelector("[data-url-new]").hidden = state.qualifiers.every((q) => taken.has(q));
  const picker = callForm.querySelector("[data-call-urls]");
  const chosen = picker.value;
  picker.replaceChildren(...urls.map((url) => el("option", { value: url.FunctionUrl, text: `${url.Qualifier} (${url.AuthType}) ${url.FunctionUrl}` })));
  if (urls.some((url) => url.FunctionUrl === chosen)) picker.value = chosen;
  callForm.hidden = !urls.length;
  renderTriggers();
}

// The answer of every change: the URLs, the qualifier's policy and the statements changed.
function applied(result, qualifier, message) {
  urls = result.Urls;
  renderUrls();
  const changes = result.PolicyChanges.map((c) => `${c.Added ? "Added" : "Removed"} the policy statement ${c.Sid} (${c.Action}).`);
  notice.textContent = [message, ...changes].join(" ");
  notice.hidden = false;
  // The Permissions section shows the function's own policy ($LATEST's), not an alias's.
  if (result.PolicyChanges.length && qualifier === "$LATEST") {
    document.dispatchEvent(new CustomEvent("functory:policy", { detail: result.Policy }));
  }
}

function syncForm() {
  const auth = form.elements.AuthType.value;
  for (const note of form.querySelectorAll("[data-auth-note]")) note.hidden = note.dataset.authNote !== auth;
  form.querySelector("[data-cors]").hidden = !form.elements.corsEnabled.checked;
}

function openForm(url) {
  clearErrors(form);
  editing = url ? url.Qualifier : null;
  form.querySelector("[data-url-form-title]").textContent = url ? `Edit the URL of ${url.Qualifier}` : "Create function URL";
  const qualifier = form.elements.Qualifier;
  qualifier.disabled = Boolean(url);
  const taken = new Set(urls.map((u) => u.Qualifier));
  for (const option of qualifier.options) option.disabled = !url && taken.has(option.value);
  qualifier.value = url ? url.Qualifier : state.qualifiers.find((q) => !taken.has(q)) || "$LATEST";
  form.elements.AuthType.value = url ? url.AuthType : "AWS_IAM";
  form.elements.InvokeMode.value = url ? url.InvokeMode : "BUFFERED";
  const cors = (url && url.Cors) || {};
  form.elements.corsEnabled.checked = Object.keys(cors).length > 0;
  form.elements.AllowOrigins.value = (cors.AllowOrigins || []).join(", ");
  for (const box of form.querySelectorAll('[name="AllowMethods"]')) box.checked = (cors.AllowMethods || []).includes(box.value);
  form.elements.AllowHeaders.value = (cors.AllowHeaders || []).join(", ");
  form.elements.ExposeHeaders.value = (cors.ExposeHeaders || []).join(", ");
  form.elements.MaxAge.value = cors.MaxAge ?? "";
  form.elements.AllowCredentials.checked = Boolean(cors.AllowCredentials);
  syncForm();
  form.hidden = false;
  form.querySelector("input, select").focus();
}

function formCors() {
  if (!form.elements.corsEnabled.checked) return {};
  const f = form.elements;
  const cors = {
    AllowOrigins: splitList(f.AllowOrigins.value),
    AllowMethods: [...form.querySelectorAll('[name="AllowMethods"]:checked')].map((box) => box.value),
    AllowHeaders: splitList(f.AllowHeaders.value),
    ExposeHeaders: splitList(f.ExposeHeaders.value),
    AllowCredentials: f.AllowCredentials.checked,
  };
  if (f.MaxAge.value !== "") cors.MaxAge = Number(f.MaxAge.value);
  return cors;
}

section.querySelector("[data-url-new]").addEventListener("click", () => openForm(null));
form.querySelector("[data-url-cancel]").addEventListener("click", () => {
  form.hidden = true;
  editing = null;
});
form.addEventListener("change", syncForm);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { AuthType: form.elements.AuthType.value, InvokeMode: form.elements.InvokeMode.value, Cors: formCors() };
  const qualifier = editing;
  const result = await submitting(form, () => (qualifier === null
    ? api("POST", base, { ...body, Qualifier: form.elements.Qualifier.value })
    : api("PUT", `${base}/${encodeURIComponent(qualifier)}`, body)));
  if (result) {
    const name = qualifier ?? form.elements.Qualifier.value;
    applied(result, name, qualifier === null ? `Created the URL of ${name}.` : `Saved the URL of ${name}.`);
    form.hidden = true;
    editing = null;
  }
});

// --- calling a URL from the page ---
function requestHeaders(text) {
  const headers = new Headers();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon < 1) throw { message: `Not a header (name: value): ${line.trim()}` };
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return headers;
}

function target(urlText, path) {
  const suffix = path.trim() || "/";
  return urlText.replace(/\/$/, "") + (suffix.startsWith("/") || suffix.startsWith("?") ? suffix : `/${suffix}`);
}

callForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = callForm.elements;
  const result = callForm.querySelector("[data-call-result]");
  const statusEl = callForm.querySelector("[data-call-status]");
  const headersEl = callForm.querySelector("[data-call-headers]");
  const bodyEl = callForm.querySelector("[data-call-body]");
  await submitting(callForm, async () => {
    const method = f.method.value;
    const init = {
      method,
      headers: requestHeaders(f.headers.value),
      // The URL is the function's, not the console's: never send the console's session.
      credentials: "omit",
      cache: "no-store",
      redirect: "manual",
    };
    if (!["GET", "HEAD"].includes(method) && f.body.value !== "") init.body = f.body.value;
    let response;
    try {
      response = await fetch(target(f.url.value, f.path.value), init);
    } catch (error) {
      throw { message: `The request failed before an answer came (network or CORS): ${error.message}` };
    }
    result.hidden = false;
    statusEl.textContent = response.type === "opaqueredirect" ? "redirect (not followed)" : `${response.status} ${response.statusText}`;
    headersEl.textContent = [...response.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
    bodyEl.textContent = "";
    if (!response.body) return;
    // Streamed (RESPONSE_STREAM) bodies show as their chunks arrive.
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      bodyEl.textContent += value;
    }
  });
});

form.hidden = true;
renderUrls();
