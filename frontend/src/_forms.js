// Helpers for the console's settings forms: inline errors scoped to a form, a "Saved" note,
// and a busy state while a request runs.
import { showError } from "./_http.js";
import { setEnabled } from "./_permissions.js";

export function clearErrors(scope) {
  for (const el of scope.querySelectorAll("[data-error-for], [data-form-error]")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of scope.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// Shows a service error next to the control its `field` names inside `scope`, else in the
// scope's general error slot (`fallback`).
export function fieldError(scope, error, fallback) {
  let target = error.field && scope.querySelector(`[data-error-for="${error.field}"]`);
  if (!target) target = fallback || scope.querySelector("[data-form-error]");
  showError({ ...error, field: null }, target);
  const control = target && target.closest("label")?.querySelector("input, select, textarea");
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
}

// Runs `action` with the form's submit button disabled; shows the error inline.
export async function submitting(form, action, fallback) {
  clearErrors(form);
  const buttons = [...form.querySelectorAll("button")];
  for (const b of buttons) b.disabled = true;
  try {
    const result = await action();
    const saved = form.querySelector(".saved");
    if (saved) {
      saved.textContent = "Saved";
      setTimeout(() => (saved.textContent = ""), 4000);
    }
    return result;
  } catch (error) {
    fieldError(form, error, fallback);
    return undefined;
  } finally {
    for (const b of buttons) setEnabled(b, true);
  }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function fileToBase64(file, onProgress) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onprogress = (event) => onProgress && event.lengthComputable && onProgress(event.loaded / event.total);
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject({ message: "The file could not be read." });
    reader.readAsDataURL(file);
  });
}
