// Shared helpers for console scripts: CSRF-protected JSON calls with inline errors.

export function csrfToken() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// POST/PUT/DELETE JSON to a console endpoint. Resolves with the parsed body; rejects with
// {status, code, message, field} so callers can show the error next to the control.
export async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const error = data.error || {};
    throw { status: response.status, code: error.code, message: error.message || text, field: error.field };
  }
  return data;
}

// Shows a service error inline: next to the element for its field, else in `fallback`.
export function showError(error, fallback) {
  const target = (error.field && document.querySelector(`[data-error-for="${error.field}"]`)) || fallback;
  if (target) {
    target.textContent = error.code ? `${error.code}: ${error.message}` : error.message;
    target.hidden = false;
  }
}
