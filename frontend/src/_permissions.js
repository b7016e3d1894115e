// What the signed-in user may do on this page (console/permissions.py, as the
// "console-permissions" JSON): a control they may not use stays disabled, with AWS's
// reason as its title, whatever the page's script does with it. The server refuses the
// call anyway; this only keeps the page honest.
let loaded;

function all() {
  if (loaded === undefined) {
    const node = document.getElementById("console-permissions");
    loaded = node ? JSON.parse(node.textContent) : {};
  }
  return loaded;
}

// The refusal for `key` ({message, note}), or null when allowed.
export function denied(key) {
  return all()[key] || null;
}

// Marks `control` disabled with the reason when `key` is refused; returns it.
export function guard(control, key) {
  const reason = denied(key);
  if (reason) {
    control.disabled = true;
    control.title = reason.message;
    control.dataset.denied = reason.note;
    control.setAttribute("aria-disabled", "true");
  }
  return control;
}

// Whether a control was rendered (or guarded) as refused.
export function isDenied(control) {
  return Boolean(control && control.hasAttribute("data-denied"));
}

// Enables or disables `control`, never enabling a refused one.
export function setEnabled(control, enabled) {
  control.disabled = !enabled || isDenied(control);
}

// Makes `control` stand for `key` now (a form that creates, then edits): enabled when
// `key` is allowed, else disabled with its reason.
export function guardAs(control, key) {
  control.removeAttribute("data-denied");
  control.removeAttribute("aria-disabled");
  control.removeAttribute("title");
  control.disabled = false;
  return guard(control, key);
}
