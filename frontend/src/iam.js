// The IAM pages (/account/iam/...): users, groups, roles and customer managed policies. Every
// change is a POST of a form (`form[data-post]`) or a button (`[data-action]`) to the page's
// JSON endpoints; errors show next to their field, and the page reloads on success.
import { api, showError } from "./_http.js";
import { clearErrors, submitting } from "./_forms.js";
import { attachJsonEditor } from "./_json_editor.js";

const editors = new Map();
for (const box of document.querySelectorAll("[data-json-editor]")) {
  editors.set(box.querySelector("textarea"), attachJsonEditor(box));
}

// "/account/iam/groups/{GroupName}/add-user" with the form's GroupName in it.
function fill(template, form) {
  return template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(form.elements[name]?.value ?? ""));
}

function formBody(form) {
  const body = {};
  for (const control of form.elements) {
    if (!control.name) continue;
    if (control.type === "checkbox") body[control.name] = control.checked;
    else if (control.tagName === "TEXTAREA" || control.type === "password") body[control.name] = control.value;
    else body[control.name] = control.value.trim();
  }
  return body;
}

for (const form of document.querySelectorAll("form[data-post]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    for (const [textarea, editor] of editors) {
      if (form.contains(textarea) && !editor.validate()) return;
    }
    const saved = await submitting(form, () => api("POST", fill(form.dataset.post, form), formBody(form)).then(() => true));
    if (saved && !form.hasAttribute("data-stay")) location.reload();
  });
}

function errorSlot(button) {
  const section = button.closest("section") || document.body;
  let slot = section.querySelector("[data-action-error]");
  if (!slot) {
    slot = document.createElement("p");
    slot.className = "error-inline";
    slot.setAttribute("data-action-error", "");
    slot.setAttribute("role", "alert");
    section.append(slot);
  }
  return slot;
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", async () => {
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    const slot = errorSlot(button);
    slot.hidden = true;
    button.disabled = true;
    try {
      await api("POST", button.dataset.url, button.dataset.body ? JSON.parse(button.dataset.body) : {});
      if (button.dataset.then) location.assign(button.dataset.then);
      else location.reload();
    } catch (error) {
      showError(error, slot);
      button.disabled = false;
    }
  });
}

// Editing an inline policy: its name and document into the inline form's editor.
const inlineForm = document.querySelector("[data-inline-form]");
const inlineDocuments = JSON.parse(document.getElementById("inline-documents")?.textContent || "{}");
for (const button of document.querySelectorAll("[data-edit-inline]")) {
  button.addEventListener("click", () => {
    const name = button.dataset.editInline;
    clearErrors(inlineForm);
    inlineForm.elements.PolicyName.value = name;
    editors.get(inlineForm.elements.PolicyDocument).setValue(inlineDocuments[name] ?? "");
    inlineForm.querySelector("[data-inline-title]").textContent = `Edit inline policy ${name}`;
    inlineForm.scrollIntoView({ block: "start" });
    inlineForm.elements.PolicyDocument.focus();
  });
}
