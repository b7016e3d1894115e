// The function page's Versions and aliases tab: publish a version; create, edit and delete
// aliases with an optional weighted second version set by a range slider.
import { api } from "./_http.js";
import { fieldError, submitting } from "./_forms.js";
import { guardAs } from "./_permissions.js";

const root = document.querySelector(".vers");
const base = `/functions/${encodeURIComponent(root.dataset.function)}`;
const reload = () => location.reload();

const publishForm = root.querySelector('[data-form="publish"]');
publishForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const version = await submitting(publishForm, () =>
    api("POST", `${base}/versions/publish`, { Description: publishForm.elements.Description.value }),
  );
  if (!version) return;
  // Publishing an unchanged $LATEST returns the newest version instead of a new one.
  if (root.querySelector(`[data-versions] tr[data-version="${version.Version}"]`)) {
    const note = root.querySelector("[data-publish-note]");
    note.textContent = `Nothing changed since version ${version.Version}: no new version was published.`;
    note.hidden = false;
    return;
  }
  reload();
});

// --- alias form: create, or edit the alias picked in the table ---
const form = root.querySelector('[data-form="alias"]');
const slider = form.elements.AdditionalWeight;
const extra = form.elements.AdditionalVersion;
let editing = null;

function showSplit() {
  const weight = Number(slider.value);
  form.querySelector("[data-weight-out]").textContent = `${weight} %`;
  slider.disabled = !extra.value;
  form.querySelector("[data-split]").textContent = extra.value
    ? `${100 - weight} % of invocations run version ${form.elements.FunctionVersion.value}, ${weight} % run version ${extra.value}.`
    : "All invocations run the alias's version. Choose an additional version to shift traffic.";
}
form.addEventListener("input", showSplit);
form.addEventListener("change", showSplit);
showSplit();

function startEdit(row) {
  editing = row.dataset.alias;
  form.elements.Name.value = editing;
  form.elements.Name.readOnly = true;
  form.elements.FunctionVersion.value = row.dataset.version;
  form.elements.Description.value = row.dataset.description;
  extra.value = row.dataset.extraVersion;
  slider.value = String(Math.round(Number(row.dataset.extraPercent)));
  form.querySelector("[data-alias-title]").textContent = `Edit alias ${editing}`;
  guardAs(form.querySelector("[data-alias-submit]"), "update_alias").textContent = "Save alias";
  form.querySelector("[data-alias-cancel]").hidden = false;
  showSplit();
  form.elements.FunctionVersion.focus();
}

form.querySelector("[data-alias-cancel]").addEventListener("click", () => {
  editing = null;
  form.reset();
  form.elements.Name.readOnly = false;
  form.querySelector("[data-alias-title]").textContent = "Create alias";
  guardAs(form.querySelector("[data-alias-submit]"), "create_alias").textContent = "Create alias";
  form.querySelector("[data-alias-cancel]").hidden = true;
  showSplit();
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    FunctionVersion: form.elements.FunctionVersion.value,
    Description: form.elements.Description.value,
    AdditionalVersion: extra.value,
    AdditionalWeight: Number(slider.value),
  };
  const url = editing ? `${base}/aliases/${encodeURIComponent(editing)}` : `${base}/aliases`;
  if (!editing) body.Name = form.elements.Name.value.trim();
  const alias = await submitting(form, () => api("POST", url, body), form.querySelector('[data-error-for="alias"]'));
  if (alias) reload();
});

for (const row of root.querySelectorAll("tr[data-alias]")) {
  row.querySelector("[data-edit]").addEventListener("click", () => startEdit(row));
  row.querySelector("[data-delete]").addEventListener("click", async () => {
    if (!confirm(`Delete alias ${row.dataset.alias}?`)) return;
    try {
      await api("DELETE", `${base}/aliases/${encodeURIComponent(row.dataset.alias)}`);
      row.remove();
    } catch (error) {
      fieldError(root, error, root.querySelector('[data-error-for="aliases"]'));
    }
  });
}
