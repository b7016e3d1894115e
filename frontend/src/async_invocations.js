// The asynchronous invocations page: while the page is visible, refetch its table fragment
// (same filters, same page) every few seconds, keeping what the user is reading in place.
import "./_async.css";

const REFRESH_MS = 5_000;
const box = document.getElementById("ai-table");
const updated = document.getElementById("ai-updated");
let timer = null;
let signedOut = false;
let last = box.innerHTML;

// A stable key for the focused element, to focus its new copy after the swap.
function focusKey() {
  const active = document.activeElement;
  if (!active || !box.contains(active)) return null;
  if (active.matches("a[href]")) return `a[href="${CSS.escape(active.getAttribute("href"))}"]`;
  const details = active.closest("details[data-request-id]");
  return details ? `details[data-request-id="${CSS.escape(details.dataset.requestId)}"] > summary` : null;
}

function swap(html) {
  if (html === last) return;
  // Swapping would drop a selection (e.g. a request id being copied): wait for the next round.
  const selection = window.getSelection();
  if (selection && !selection.isCollapsed && box.contains(selection.anchorNode)) return;
  const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.requestId));
  const focused = focusKey();
  box.innerHTML = html;
  last = html;
  for (const details of box.querySelectorAll("details[data-request-id]")) {
    if (open.has(details.dataset.requestId)) details.open = true;
  }
  if (focused) box.querySelector(focused)?.focus();
}

async function refresh() {
  clearTimeout(timer);
  if (signedOut || document.hidden) return;
  try {
    const response = await fetch(`${box.dataset.refreshUrl}${location.search}`, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (response.status === 401) {
      signedOut = true;
      updated.textContent = "Signed out: reload the page to sign in again.";
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    swap(await response.text());
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    updated.textContent = `Could not refresh (${error.message}); trying again…`;
  }
  if (!document.hidden) timer = setTimeout(refresh, REFRESH_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) clearTimeout(timer);
  else refresh();
});
timer = setTimeout(refresh, REFRESH_MS);
