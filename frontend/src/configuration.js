// The function page's Configuration tab: each section saves through the console endpoint
// that calls the same service as the matching API operation.
import { api } from "./_http.js";
import { el, fieldError, submitting } from "./_forms.js";
import { guard } from "./_permissions.js";

const root = document.querySelector(".cfg");
const state = JSON.parse(document.getElementById("configuration-state").textContent);
const base = `/functions/${encodeURIComponent(state.function)}/configuration`;
const form = (name) => root.querySelector(`[data-form="${name}"]`);

// --- key/value editors (environment variables, tags) ---
function kvEditor(formEl, initial, onChange, labels) {
  const body = formEl.querySelector("[data-rows]");
  function addRow(key = "", value = "") {
    const remove = el("button", { type: "button", class: "link", text: "Remove", "aria-label": `Remove ${labels.noun}` });
    const row = el(
      "tr",
      {},
      el("td", {}, el("input", { "aria-label": `${labels.noun} key`, "data-key": "", value: key })),
      el("td", {}, el("input", { "aria-label": `${labels.noun} value`, "data-value": "", value })),
      el("td", {}, remove),
    );
    remove.addEventListener("click", () => {
      row.remove();
      onChange();
    });
    body.append(row);
    return row;
  }
  for (const [key, value] of Object.entries(initial)) addRow(key, value);
  formEl.querySelector("[data-add-row]").addEventListener("click", () => {
    addRow().querySelector("input").focus();
    onChange();
  });
  body.addEventListener("input", onChange);
  return () => {
    const values = {};
    for (const row of body.querySelectorAll("tr")) {
      const key = row.querySelector("[data-key]").value.trim();
      if (key) values[key] = row.querySelector("[data-value]").value;
    }
    return values;
  };
}

// --- general ---
form("general").addEventListener("submit", (event) => {
  event.preventDefault();
  const f = event.currentTarget;
  const number = (name) => (f.elements[name].value === "" ? null : Number(f.elements[name].value));
  submitting(f, async () => {
    const config = await api("POST", `${base}/general`, {
      Description: f.elements.Description.value,
      MemorySize: number("MemorySize"),
      Timeout: number("Timeout"),
      EphemeralStorage: number("EphemeralStorage"),
    });
    const memory = document.querySelector(".facts dd");
    document.querySelectorAll(".facts div").forEach((div) => {
      if (div.querySelector("dt").textContent === "Memory") div.querySelector("dd").textContent = `${config.MemorySize} MB`;
    });
    return memory;
  }, f.querySelector('[data-error-for="general"]'));
});

// --- environment variables, with the 4 KB limit measured as the service measures it ---
const envForm = form("environment");
const envMeter = envForm.querySelector("[data-env-meter]");
const envSize = envForm.querySelector("[data-env-size]");
let readEnv = () => ({});
function measureEnv() {
  const bytes = new TextEncoder().encode(JSON.stringify(readEnv())).length;
  envMeter.value = Math.min(bytes, state.environmentLimit);
  envSize.textContent = `${bytes.toLocaleString()} of ${state.environmentLimit.toLocaleString()} bytes (4 KB)`;
  envSize.classList.toggle("error", bytes > state.environmentLimit);
}
readEnv = kvEditor(envForm, state.environment, measureEnv, { noun: "Environment variable" });
measureEnv();
envForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitting(envForm, () => api("POST", `${base}/environment`, { Variables: readEnv() }),
    envForm.querySelector('[data-error-for="environment.variables"]'));
});

// --- logging (LoggingConfig): the levels apply only to the JSON format ---
const logForm = form("logging");
const syncLogLevels = () => {
  const json = logForm.elements.LogFormat.value === "JSON";
  logForm.elements.ApplicationLogLevel.disabled = !json;
  logForm.elements.SystemLogLevel.disabled = !json;
};
logForm.elements.LogFormat.addEventListener("change", syncLogLevels);
syncLogLevels();
logForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = logForm.elements;
  const config = await submitting(logForm, () => api("POST", `${base}/logging`, {
    LogFormat: f.LogFormat.value,
    ApplicationLogLevel: f.ApplicationLogLevel.value,
    SystemLogLevel: f.SystemLogLevel.value,
    LogGroup: f.LogGroup.value.trim(),
  }), logForm.querySelector('[data-error-for="logging"]'));
  if (!config) return;
  const shown = config.LoggingConfig;
  logForm.querySelector("[data-logging-format]").textContent = shown.LogFormat;
  logForm.querySelector("[data-logging-app]").textContent = shown.ApplicationLogLevel || "-";
  logForm.querySelector("[data-logging-system]").textContent = shown.SystemLogLevel || "-";
  logForm.querySelector("[data-logging-group]").textContent = shown.LogGroup;
  f.LogGroup.value = shown.LogGroup;
});

// --- tags ---
const tagsForm = form("tags");
const readTags = kvEditor(tagsForm, state.tags, () => {}, { noun: "Tag" });
tagsForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitting(tagsForm, () => api("POST", `${base}/tags`, { Tags: readTags() }),
    tagsForm.querySelector('[data-error-for="tags"]'));
});

// --- resource-based policy ---
const policySection = root.querySelector("#cfg-policy");
function conditions(statement) {
  const parts = [];
  for (const [op, pairs] of Object.entries(statement.Condition || {})) {
    for (const [key, value] of Object.entries(pairs)) parts.push(`${op} ${key} = ${value}`);
  }
  return parts.join("; ");
}
function renderPolicy(policy) {
  const body = policySection.querySelector("[data-statements]");
  body.replaceChildren();
  for (const statement of policy.Statement) {
    const principal = typeof statement.Principal === "string" ? statement.Principal : Object.values(statement.Principal)[0];
    const remove = guard(
      el("button", { type: "button", class: "link", text: "Remove", "aria-label": `Remove statement ${statement.Sid}` }),
      "remove_permission",
    );
    remove.addEventListener("click", async () => {
      try {
        renderPolicy((await api("DELETE", `${base}/policy/${encodeURIComponent(statement.Sid)}`)).Policy);
      } catch (error) {
        fieldError(policySection, error, policySection.querySelector('[data-error-for="policy"]'));
      }
    });
    body.append(el("tr", {}, el("td", { text: statement.Sid }), el("td", { text: principal }),
      el("td", { text: statement.Action }), el("td", { text: conditions(statement) }), el("td", {}, remove)));
  }
  if (!policy.Statement.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "muted", text: "No statements: only this account can invoke the function." })));
  policySection.querySelector("[data-policy-json]").textContent = JSON.stringify(policy, null, 2);
}
renderPolicy(state.policy);
// The Function URL section changes the policy too (a NONE URL's public-access statements).
document.addEventListener("functory:policy", (event) => renderPolicy(event.detail));
form("policy").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.currentTarget;
  const data = Object.fromEntries(new FormData(f));
  const result = await submitting(f, () => api("POST", `${base}/policy`, data));
  if (result) {
    renderPolicy(result.Policy);
    f.elements.StatementId.value = "";
    f.elements.Principal.value = "";
  }
});

// --- reserved concurrency ---
const ccForm = form("concurrency");
const ccInput = ccForm.elements.ReservedConcurrentExecutions;
const syncMode = () => (ccInput.disabled = ccForm.elements.mode.value !== "reserved");
ccForm.addEventListener("change", syncMode);
syncMode();
ccForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const reserved = ccForm.elements.mode.value === "reserved" ? (ccInput.value === "" ? null : Number(ccInput.value)) : null;
  if (ccForm.elements.mode.value === "reserved" && reserved === null) {
    fieldError(ccForm, { message: "Enter the number of executions to reserve.", field: "reservedConcurrentExecutions" });
    return;
  }
  const result = await submitting(ccForm, () => api("POST", `${base}/concurrency`, { ReservedConcurrentExecutions: reserved }));
  if (result) ccForm.querySelector("[data-unreserved]").textContent = `Unreserved account concurrency: ${result.UnreservedConcurrentExecutions}`;
});

// --- layers: an ordered list, saved as a whole ---
const layersForm = form("layers");
const layerList = layersForm.querySelector("[data-layers]");
let layers = state.layers.map((layer) => layer.arn);
function renderLayers() {
  layerList.replaceChildren();
  layers.forEach((arn, index) => {
    const move = (step) => () => {
      const [item] = layers.splice(index, 1);
      layers.splice(index + step, 0, item);
      renderLayers();
    };
    const up = el("button", { type: "button", class: "link", text: "↑", "aria-label": `Move ${arn} up` });
    const down = el("button", { type: "button", class: "link", text: "↓", "aria-label": `Move ${arn} down` });
    const remove = el("button", { type: "button", class: "link", text: "Remove", "aria-label": `Remove ${arn}` });
    up.disabled = index === 0;
    down.disabled = index === layers.length - 1;
    up.addEventListener("click", move(-1));
    down.addEventListener("click", move(1));
    remove.addEventListener("click", () => {
      layers.splice(index, 1);
      renderLayers();
    });
    layerList.append(el("li", {}, el("code", { text: arn }), up, down, remove));
  });
  if (!layers.length) layerList.append(el("li", { class: "muted", text: "No layers." }));
}
renderLayers();
layersForm.querySelector("[data-add-layer]").addEventListener("click", () => {
  const arn = layersForm.elements.arn.value.trim() || layersForm.elements.choice.value;
  if (!arn) return;
  layers.push(arn);
  layersForm.elements.arn.value = "";
  layersForm.elements.choice.value = "";
  renderLayers();
});
layersForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const config = await submitting(layersForm, () => api("POST", `${base}/layers`, { Layers: layers }),
    layersForm.querySelector('[data-error-for="layers"]'));
  if (config) {
    layers = (config.Layers || []).map((layer) => layer.Arn);
    renderLayers();
  }
});

// --- asynchronous invocation ($LATEST): every setting saved at once (PutFunctionEventInvokeConfig) ---
const asyncForm = form("async");
asyncForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = asyncForm.elements;
  const age = f.MaximumEventAgeInSeconds.value === "" ? null : Number(f.MaximumEventAgeInSeconds.value);
  const saved = await submitting(asyncForm, () => api("POST", `${base}/async`, {
    MaximumEventAgeInSeconds: age,
    MaximumRetryAttempts: Number(f.MaximumRetryAttempts.value),
    OnSuccess: f.OnSuccess.value.trim(),
    OnFailure: f.OnFailure.value.trim(),
    DeadLetterTargetArn: f.DeadLetterTargetArn.value.trim(),
  }), asyncForm.querySelector('[data-error-for="async"]'));
  if (saved) {
    f.MaximumEventAgeInSeconds.value = saved.MaximumEventAgeInSeconds;
    f.MaximumRetryAttempts.value = String(saved.MaximumRetryAttempts);
    f.OnSuccess.value = saved.OnSuccess;
    f.OnFailure.value = saved.OnFailure;
    f.DeadLetterTargetArn.value = saved.DeadLetterTargetArn;
  }
});
