// The account page's own script (script-src 'self'): a toast when the widget saves.
const prefs = document.getElementById("prefs");
const toast = document.getElementById("toast");
let hide;

function show(text, kind) {
  toast.textContent = text;
  toast.className = "toast " + kind;
  toast.hidden = false;
  clearTimeout(hide);
  hide = setTimeout(() => { toast.hidden = true; }, 6000);
}

prefs.addEventListener("preferences:ready", () => prefs.setAttribute("data-ready", ""));
prefs.addEventListener("preferences:saved", (event) => {
  const changes = event.detail.changes.length;
  show(changes ? `Preferences saved (${changes} change${changes > 1 ? "s" : ""}).` : "Nothing changed.", "success");
});
prefs.addEventListener("preferences:error", () => show("Your preferences could not be saved.", "error"));
