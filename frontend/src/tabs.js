// The function page's tabs: keyboard-accessible, the open tab kept in the URL hash; and its
// Delete function button.
import { api, showError } from "./_http.js";
import { isDenied } from "./_permissions.js";

const tabs = [...document.querySelectorAll('[role="tab"]')];

function open(key, focus = false) {
  for (const tab of tabs) {
    const selected = tab.dataset.tab === key;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  if (location.hash.slice(1) !== key) history.replaceState(null, "", `#${key}`);
  document.dispatchEvent(new CustomEvent("functory:tab", { detail: key }));
}

for (const [index, tab] of tabs.entries()) {
  tab.addEventListener("click", () => open(tab.dataset.tab));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step) open(tabs[(index + step + tabs.length) % tabs.length].dataset.tab, true);
  });
}
const wanted = location.hash.slice(1);
open(tabs.some((tab) => tab.dataset.tab === wanted) ? wanted : tabs[0].dataset.tab);

const remove = document.getElementById("function-delete");
remove?.addEventListener("click", async () => {
  if (isDenied(remove)) return;
  if (!window.confirm(`Delete the function ${remove.dataset.name}, its versions, aliases and URLs? This cannot be undone.`)) return;
  remove.disabled = true;
  try {
    await api("DELETE", remove.dataset.api);
    window.location.assign("/");
  } catch (error) {
    remove.disabled = false;
    showError(error, document.getElementById("function-delete-error"));
  }
});
