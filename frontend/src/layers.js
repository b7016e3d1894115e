// The layers page: publish a layer version from a .zip, delete versions.
import { api } from "./_http.js";
import { fieldError, fileToBase64, submitting } from "./_forms.js";

const form = document.querySelector('[data-form="publish"]');
const progress = form.querySelector("[data-progress]");
const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = form.elements.zip.files[0];
  const published = await submitting(form, async () => {
    if (!file) throw { message: "Choose a .zip file.", field: "content.zipFile" };
    progress.hidden = false;
    const zip = await fileToBase64(file, (share) => (progress.value = share));
    return api("POST", "/layers/publish", {
      LayerName: form.elements.LayerName.value.trim(),
      Description: form.elements.Description.value,
      LicenseInfo: form.elements.LicenseInfo.value,
      CompatibleRuntimes: checked("runtime"),
      CompatibleArchitectures: checked("architecture"),
      ZipFile: zip,
    });
  }, form.querySelector('[data-error-for="publish"]'));
  progress.hidden = true;
  if (published) location.reload();
});

const table = document.querySelector("[data-layer-versions]");
for (const row of table.querySelectorAll("tr[data-layer]")) {
  row.querySelector("[data-delete]").addEventListener("click", async () => {
    const label = `${row.dataset.layer} version ${row.dataset.number}`;
    if (!confirm(`Delete ${label}? Functions that use it keep working.`)) return;
    try {
      await api("DELETE", `/layers/${encodeURIComponent(row.dataset.layer)}/${row.dataset.number}`);
      row.remove();
    } catch (error) {
      fieldError(document, error, document.querySelector('[data-error-for="delete"]'));
    }
  });
}
