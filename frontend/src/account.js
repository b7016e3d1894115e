// The account page: users (an admin creates and deactivates them) and access keys
// (create — the secret shown once —, deactivate/activate, delete).
import { api } from "./_http.js";
import { el, fieldError, submitting } from "./_forms.js";

const keysTable = document.querySelector("[data-keys] tbody");
const keysError = document.querySelector('[data-error-for="keys"]');
const secretBox = document.querySelector("[data-secret]");

function wireKey(row) {
  const toggle = row.querySelector("[data-toggle-key]");
  toggle.addEventListener("click", async () => {
    const status = row.dataset.status === "Active" ? "Inactive" : "Active";
    try {
      const key = await api("POST", `/account/keys/${row.dataset.key}`, { Status: status });
      row.dataset.status = key.Status;
      row.querySelector("[data-key-status]").textContent = key.Status;
      toggle.textContent = key.Status === "Active" ? "Deactivate" : "Activate";
    } catch (error) {
      fieldError(document, error, keysError);
    }
  });
  row.querySelector("[data-delete-key]").addEventListener("click", async () => {
    if (!confirm(`Delete access key ${row.dataset.key}? Programs using it stop working.`)) return;
    try {
      await api("DELETE", `/account/keys/${row.dataset.key}`);
      row.remove();
    } catch (error) {
      fieldError(document, error, keysError);
    }
  });
}
keysTable.querySelectorAll("tr[data-key]").forEach(wireKey);

async function createKey(username) {
  keysError.hidden = true;
  try {
    const key = await api("POST", "/account/keys", username ? { UserName: username } : {});
    secretBox.querySelector("[data-secret-id]").textContent = key.AccessKeyId;
    secretBox.querySelector("[data-secret-value]").textContent = key.SecretAccessKey;
    secretBox.hidden = false;
    const row = el(
      "tr",
      { "data-key": key.AccessKeyId, "data-status": key.Status },
      el("td", {}, el("code", { text: key.AccessKeyId })),
      el("td", { text: key.UserName }),
      el("td", { "data-key-status": "", text: key.Status }),
      el("td", { text: key.CreateDate.slice(0, 16).replace("T", " ") + " UTC" }),
      el("td", { text: "Never" }),
      el("td", {}, el("button", { type: "button", class: "link", "data-toggle-key": "", text: "Deactivate" }), " ",
        el("button", { type: "button", class: "link danger", "data-delete-key": "", text: "Delete" })),
    );
    keysTable.append(row);
    wireKey(row);
    secretBox.querySelector("[data-secret-close]").focus();
  } catch (error) {
    fieldError(document, error, keysError);
  }
}
document.querySelector("[data-create-key]").addEventListener("click", () => createKey(""));
for (const button of document.querySelectorAll("[data-key-for]")) {
  button.addEventListener("click", () => createKey(button.dataset.keyFor));
}
secretBox.querySelector("[data-secret-copy]").addEventListener("click", () =>
  navigator.clipboard?.writeText(secretBox.querySelector("[data-secret-value]").textContent));
secretBox.querySelector("[data-secret-close]").addEventListener("click", () => {
  // The secret leaves the page for good.
  secretBox.querySelector("[data-secret-value]").textContent = "";
  secretBox.hidden = true;
});

// --- users (admin) ---
const usersError = document.querySelector('[data-error-for="users"]');
for (const row of document.querySelectorAll("tr[data-user]")) {
  const toggle = row.querySelector("[data-toggle-user]");
  if (!toggle) continue;
  toggle.addEventListener("click", async () => {
    const active = row.dataset.active !== "true";
    try {
      const user = await api("POST", `/account/users/${encodeURIComponent(row.dataset.user)}/status`, { Active: active });
      row.dataset.active = String(user.Active);
      row.querySelector("[data-user-status]").textContent = user.Active ? "Active" : "Inactive";
      toggle.textContent = user.Active ? "Deactivate" : "Activate";
    } catch (error) {
      fieldError(document, error, usersError);
    }
  });
}
const userForm = document.querySelector('[data-form="user"]');
userForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const created = await submitting(userForm, () =>
    api("POST", "/account/users", {
      UserName: userForm.elements.UserName.value.trim(),
      Password: userForm.elements.Password.value,
      Admin: userForm.elements.Admin.checked,
    }),
  );
  if (created) location.reload();
});
