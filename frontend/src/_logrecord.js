// Log lines as people read them: a JSON log record (LoggingConfig's JSON format) becomes its
// level, request id and message, a platform record a one-line summary; every other line is
// shown as it is. The whole record stays one click away.

function parseRecord(message) {
  const text = message.trim();
  if (!text.startsWith("{") || !text.endsWith("}")) return null;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch (_) {
    return null;
  }
}

function span(className, text) {
  const node = document.createElement("span");
  node.className = className;
  node.textContent = text;
  return node;
}

const show = (value) => (typeof value === "string" ? value : JSON.stringify(value));

function platformSummary(record) {
  const body = record.record || {};
  const metrics = body.metrics || {};
  switch (record.type) {
    case "platform.initStart":
      return `INIT_START ${body.functionName || ""} Version: ${body.functionVersion || ""}`;
    case "platform.start":
      return `START ${body.requestId || ""} Version: ${body.version || ""}`;
    case "platform.report": {
      const parts = [`REPORT ${body.requestId || ""}`];
      if (metrics.durationMs !== undefined) parts.push(`Duration: ${metrics.durationMs} ms`);
      if (metrics.billedDurationMs !== undefined) parts.push(`Billed: ${metrics.billedDurationMs} ms`);
      if (metrics.memorySizeMB !== undefined) parts.push(`Memory: ${metrics.maxMemoryUsedMB}/${metrics.memorySizeMB} MB`);
      if (metrics.initDurationMs !== undefined) parts.push(`Init: ${metrics.initDurationMs} ms`);
      if (body.status && body.status !== "success") parts.push(`Status: ${body.status}${body.errorType ? ` (${body.errorType})` : ""}`);
      return parts.join("  ");
    }
    default:
      return `${record.type} ${JSON.stringify(body)}`;
  }
}

// The nodes showing one log message (appended after the line's time by the caller).
export function logMessageNodes(message) {
  const text = message.replace(/\n$/, "");
  const record = parseRecord(text);
  if (!record) return [text];
  if (typeof record.type === "string" && record.type.startsWith("platform.") && record.time) {
    return [span("log-platform", platformSummary(record))];
  }
  if (record.level === undefined || (record.message === undefined && record.errorMessage === undefined)) return [text];
  const level = String(record.level).toUpperCase();
  const nodes = [span(`log-level log-${level.toLowerCase()}`, level)];
  if (record.requestId) nodes.push(span("log-request", String(record.requestId).slice(0, 8)));
  const main = record.message !== undefined ? show(record.message) : `${record.errorType || "Error"}: ${record.errorMessage}`;
  const details = document.createElement("details");
  details.className = "log-record";
  const summary = document.createElement("summary");
  summary.textContent = main;
  const full = document.createElement("pre");
  full.textContent = JSON.stringify(record, null, 2);
  details.append(summary, full);
  nodes.push(details);
  return nodes;
}
