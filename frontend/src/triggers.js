// The configuration tab's Triggers panel and the overview's Triggers line: the function's
// URLs, event source mappings and EventBridge rules, with enable/disable and delete, and the
// "Add trigger" form (a mapping, or a rule with its target and permission). Every endpoint
// answers the whole panel, so the page redraws from one source; while a mapping is between
// states (Creating, Disabling...) the panel asks again until it settles.
import { api } from "./_http.js";
import { clearErrors, el, fieldError, submitting } from "./_forms.js";
import { guard, setEnabled } from "./_permissions.js";

const section = document.querySelector("[data-triggers-panel]");
const initial = JSON.parse(document.getElementById("triggers-state").textContent);
const base = `/functions/${encodeURIComponent(initial.function)}/triggers`;
const form = section.querySelector('[data-form="trigger"]');
const notice = section.querySelector("[data-trigger-notice]");
const panelError = section.querySelector('[data-error-for="trigger"]');
const updated = section.querySelector("[data-triggers-updated]");
let state = initial;

const SETTLED = new Set(["Enabled", "Disabled"]);
const SETTLE_POLLS = 30; // one a second: a mapping that takes longer waits for Refresh
let polls = 0;
let pollTimer = null;

const SOURCE_TYPES = { sqs: "SQS", kinesis: "Kinesis", dynamodb: "DynamoDB", mq: "Amazon MQ", kafka: "Amazon MSK", rds: "DocumentDB" };

// (type, name) of a mapping's source, as the page's template names it (console/pages/triggers.py).
function sourceSummary(mapping) {
  const parts = (mapping.EventSourceArn || "").split(":");
  if (parts.length < 6) return ["Self-managed", (mapping.Topics || mapping.Queues || []).join(", ")];
  const service = parts[2];
  const resource = parts.slice(5).join(":");
  let name;
  if (service === "mq" && parts.length > 6) name = parts[6];
  else if (service === "dynamodb") name = resource.includes("/") ? resource.split("/")[1] : resource;
  else name = resource.split("/").pop();
  return [SOURCE_TYPES[service] || service, name];
}

// A mapping of a version or alias says which: its FunctionArn has a qualifier.
const qualifierOf = (mapping) => (mapping.FunctionArn || "").split(":")[7] || "";

const when = (seconds) => (seconds ? `${new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC` : "—");

function stateBadge(text) {
  const settled = SETTLED.has(text) || text === "ENABLED" || text === "DISABLED";
  const on = text === "Enabled" || text === "ENABLED";
  return el("span", { class: `state ${on ? "on" : settled ? "off" : "busy"}`, "data-state": text, text });
}

function urlLink(url) {
  return el("a", { href: url.FunctionUrl, target: "_blank", rel: "noopener noreferrer", text: url.FunctionUrl });
}

function renderOverview() {
  const overview = document.querySelector("[data-overview-triggers]");
  if (!overview) return;
  const items = state.Urls.map((url) => el("span", { class: "trigger" }, `Function URL (${url.Qualifier}): `, urlLink(url)));
  for (const mapping of state.EventSourceMappings) {
    const [kind, name] = sourceSummary(mapping);
    items.push(el("span", { class: "trigger" }, `${kind}: ${name} `, el("span", { class: "muted", text: `(${mapping.State})` })));
  }
  for (const rule of state.Rules) {
    items.push(el("span", { class: "trigger" }, `EventBridge: ${rule.Name} `, el("span", { class: "muted", text: `(${rule.State})` })));
  }
  overview.replaceChildren(...items);
  if (!items.length) overview.append(el("span", { class: "muted", text: "None" }));
}

function renderUrls() {
  const list = section.querySelector("[data-triggers]");
  list.replaceChildren(...state.Urls.map((url) => el("li", {}, el("strong", { text: "Function URL" }), " ",
    el("span", { class: "muted", text: `(${url.Qualifier}, ${url.AuthType})` }), " ", urlLink(url))));
  if (!state.Urls.length) {
    list.append(el("li", { class: "muted" }, "None: a URL is added in the ", el("a", { href: "#cfg-url", text: "Function URL" }), " section."));
  }
}

function actionButton(text, label, handler, danger = false) {
  const button = el("button", { type: "button", class: danger ? "link danger" : "link", text, "aria-label": label });
  button.addEventListener("click", handler);
  return button;
}

function emptyRow(columns, text) {
  return el("tr", {}, el("td", { colspan: String(columns), class: "muted", text }));
}

function renderMappings() {
  const body = section.querySelector("[data-mappings] tbody");
  body.replaceChildren();
  for (const mapping of state.EventSourceMappings) {
    const [kind, name] = sourceSummary(mapping);
    const enabled = mapping.State === "Enabled" || mapping.State === "Enabling" || mapping.State === "Creating";
    const busy = !SETTLED.has(mapping.State);
    const toggle = actionButton(enabled ? "Disable" : "Enable", `${enabled ? "Disable" : "Enable"} the mapping of ${name}`,
      () => change("PUT", `${base}/mappings/${mapping.UUID}`, { Enabled: !enabled }, `${enabled ? "Disabling" : "Enabling"} the mapping of ${name}.`));
    const remove = actionButton("Delete", `Delete the mapping of ${name}`, () => {
      if (!window.confirm(`Delete the event source mapping of ${name}? Its records are no longer delivered to the function.`)) return;
      change("DELETE", `${base}/mappings/${mapping.UUID}`, undefined, `Deleting the mapping of ${name}.`);
    }, true);
    guard(toggle, "update_mapping");
    guard(remove, "delete_mapping");
    setEnabled(toggle, !busy && mapping.State !== "Deleting");
    setEnabled(remove, mapping.State !== "Deleting");
    const settings = [`Batch ${mapping.BatchSize ?? "—"}`];
    if (mapping.MaximumBatchingWindowInSeconds) settings.push(`window ${mapping.MaximumBatchingWindowInSeconds} s`);
    if (mapping.StartingPosition) settings.push(mapping.StartingPosition);
    if (mapping.FilterCriteria?.Filters?.length) settings.push("filtered");
    if ((mapping.FunctionResponseTypes || []).includes("ReportBatchItemFailures")) settings.push("reports item failures");
    if (mapping.MetricsConfig?.Metrics?.length) settings.push("metrics");
    body.append(el("tr", { "data-mapping": mapping.UUID },
      el("td", {}, el("strong", { text: kind }), " ", el("span", { text: name }),
        el("div", { class: "muted small arn", text: mapping.EventSourceArn || "" }),
        qualifierOf(mapping) ? el("div", { class: "muted small", text: `Invokes ${qualifierOf(mapping)}` }) : "",
        mapping.Queues?.length ? el("div", { class: "muted small", text: `Queue ${mapping.Queues.join(", ")}` }) : ""),
      el("td", {}, stateBadge(mapping.State)),
      el("td", {}, String(mapping.BatchSize ?? "—"), el("div", { class: "muted small", text: settings.slice(1).join(", ") })),
      el("td", { class: "result", text: mapping.LastProcessingResult || "—" }),
      el("td", { text: when(mapping.LastModified) }),
      el("td", {}, el("code", { class: "uuid", text: mapping.UUID })),
      el("td", { class: "actions" }, toggle, remove)));
  }
  if (!state.EventSourceMappings.length) body.append(emptyRow(7, "No event source mapping."));
}

function renderRules() {
  const body = section.querySelector("[data-rules] tbody");
  body.replaceChildren();
  for (const rule of state.Rules) {
    const enabled = rule.State === "ENABLED";
    const toggle = actionButton(enabled ? "Disable" : "Enable", `${enabled ? "Disable" : "Enable"} the rule ${rule.Name}`,
      () => change("PUT", `${base}/rules/${encodeURIComponent(rule.Name)}`, { Enabled: !enabled }, `${enabled ? "Disabled" : "Enabled"} the rule ${rule.Name}.`));
    const remove = actionButton("Delete", `Delete the rule ${rule.Name}`, () => {
      if (!window.confirm(`Remove the trigger ${rule.Name}? The function is taken off the rule with the permission the console gave it; the rule goes too unless it still has other targets.`)) return;
      change("DELETE", `${base}/rules/${encodeURIComponent(rule.Name)}`, undefined, `Removed the trigger ${rule.Name}.`);
    }, true);
    guard(toggle, enabled ? "disable_rule" : "enable_rule");
    guard(remove, "rule_remove");
    const what = rule.ScheduleExpression
      ? el("code", { text: rule.ScheduleExpression })
      : el("code", { class: "pattern", text: rule.EventPattern });
    body.append(el("tr", { "data-rule": rule.Name },
      el("td", {}, el("strong", { text: rule.Name }), el("div", { class: "muted small", text: rule.Description || "" })),
      el("td", {}, what),
      el("td", {}, stateBadge(rule.State)),
      el("td", { text: rule.ScheduleExpression && enabled ? when(rule.NextFireAt) : "—" }),
      el("td", { class: "actions" }, toggle, remove)));
  }
  if (!state.Rules.length) body.append(emptyRow(5, "No EventBridge rule targets the function."));
}

function render() {
  renderUrls();
  renderMappings();
  renderRules();
  renderOverview();
  updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  schedulePoll();
}

// While a mapping is between states, ask again (bounded: SETTLE_POLLS in a row).
function schedulePoll() {
  clearTimeout(pollTimer);
  pollTimer = null;
  const unsettled = state.EventSourceMappings.some((mapping) => !SETTLED.has(mapping.State));
  if (!unsettled || polls >= SETTLE_POLLS) {
    if (!unsettled) polls = 0;
    return;
  }
  pollTimer = setTimeout(async () => {
    pollTimer = null;
    polls += 1;
    await refresh();
  }, 1000);
}

async function refresh() {
  try {
    const result = await api("GET", base);
    panelError.hidden = true;
    state = { ...state, ...result };
    render();
  } catch (error) {
    fieldError(section, error, panelError);
  }
}

function applied(result, message) {
  state = { ...state, Urls: result.Urls, EventSourceMappings: result.EventSourceMappings, Rules: result.Rules };
  const changes = (result.PolicyChanges || []).map((c) => `${c.Added ? "Added" : "Removed"} the policy statement ${c.Sid} (${c.Action}).`);
  notice.textContent = [message, ...changes].join(" ");
  notice.hidden = false;
  polls = 0;
  render();
  // The Permissions section shows the policy the rule's statement went into.
  if (changes.length && result.Policy) document.dispatchEvent(new CustomEvent("functory:policy", { detail: result.Policy }));
}

async function change(method, url, body, message) {
  clearErrors(section);
  try {
    applied(await api(method, url, body), message);
  } catch (error) {
    fieldError(section, error, panelError);
  }
}

// --- the Add trigger form ---
const ARN_LABELS = {
  sqs: ["SQS queue ARN", "arn:aws:sqs:us-east-1:123456789012:my-queue"],
  kinesis: ["Kinesis stream ARN", "arn:aws:kinesis:us-east-1:123456789012:stream/my-stream"],
  mq: ["Amazon MQ broker ARN", "arn:aws:mq:us-east-1:123456789012:broker:my-broker:b-1234abcd-56ef-78ab-90cd-123456789012"],
};

function syncForm() {
  const source = form.elements.source.value;
  const isRule = source === "schedule" || source === "pattern";
  form.querySelector('[data-trigger-kind="mapping"]').hidden = isRule;
  form.querySelector('[data-trigger-kind="rule"]').hidden = !isRule;
  const atTimestamp = source === "kinesis" && form.elements.StartingPosition.value === "AT_TIMESTAMP";
  for (const node of form.querySelectorAll("[data-only]")) {
    const kinds = node.dataset.only.split(" ");
    node.hidden = !(kinds.includes(source) || (kinds.includes("at-timestamp") && atTimestamp));
  }
  if (!isRule) {
    const [label, placeholder] = ARN_LABELS[source];
    form.querySelector("[data-arn-label]").textContent = label;
    form.elements.EventSourceArn.placeholder = placeholder;
    form.elements.BatchSize.placeholder = source === "sqs" ? "10" : "100";
  }
}

function number(value) {
  return value.trim() === "" ? null : Number(value);
}

function mappingBody() {
  const f = form.elements;
  const source = f.source.value;
  const body = {
    EventSourceArn: f.EventSourceArn.value.trim(),
    BatchSize: number(f.BatchSize.value),
    MaximumBatchingWindowInSeconds: number(f.MaximumBatchingWindowInSeconds.value),
    FilterPattern: f.FilterPattern.value,
    MetricsEnabled: f.MetricsEnabled.checked,
    Enabled: f.Enabled.checked,
  };
  if (source !== "mq") body.ReportBatchItemFailures = f.ReportBatchItemFailures.checked;
  if (source === "kinesis") {
    body.StartingPosition = f.StartingPosition.value;
    if (body.StartingPosition === "AT_TIMESTAMP" && f.StartingPositionTimestamp.value) {
      body.StartingPositionTimestamp = Date.parse(`${f.StartingPositionTimestamp.value}Z`) / 1000;
    }
  }
  if (source === "mq") {
    body.Queues = f.Queue.value.trim() ? [f.Queue.value.trim()] : [];
    body.BasicAuthSecretArn = f.BasicAuthSecretArn.value.trim();
    body.VirtualHost = f.VirtualHost.value.trim();
  }
  return body;
}

function ruleBody() {
  const f = form.elements;
  const body = { Name: f.Name.value.trim(), Description: f.Description.value, Enabled: f.Enabled.checked };
  if (f.source.value === "schedule") body.ScheduleExpression = f.ScheduleExpression.value.trim();
  else body.EventPattern = f.EventPattern.value;
  return body;
}

section.querySelector("[data-trigger-new]").addEventListener("click", () => {
  clearErrors(form);
  form.hidden = false;
  syncForm();
  form.elements.source.focus();
});
section.querySelector("[data-trigger-cancel]").addEventListener("click", () => {
  form.hidden = true;
});
section.querySelector("[data-triggers-refresh]").addEventListener("click", () => {
  polls = 0;
  refresh();
});
form.addEventListener("change", syncForm);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const source = form.elements.source.value;
  const isRule = source === "schedule" || source === "pattern";
  const result = await submitting(form, () => (isRule
    ? api("POST", `${base}/rules`, ruleBody())
    : api("POST", `${base}/mappings`, mappingBody())));
  if (!result) return;
  const message = isRule
    ? `Added the rule ${result.Rule.Name} (${result.Rule.Arn}) with the function as its target.`
    : `Created the event source mapping ${result.Mapping.UUID} (${result.Mapping.State}).`;
  applied(result, message);
  form.reset();
  form.hidden = true;
});

// The Function URL section tells when the URLs change.
document.addEventListener("functory:urls", (event) => {
  state = { ...state, Urls: event.detail };
  renderUrls();
  renderOverview();
});

// A slower refresh while the panel is in view, so LastProcessingResult and a rule's next
// run stay current without a reload (one request per interval, none in a hidden tab).
const AUTO_REFRESH_MS = 15000;
setInterval(() => {
  const tab = section.closest('[role="tabpanel"]');
  if (document.visibilityState !== "visible" || (tab && tab.hidden) || pollTimer !== null) return;
  refresh();
}, AUTO_REFRESH_MS);

form.hidden = true;
syncForm();
render();
