// Activate / Deactivate: the module's direct methods, through the web view.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const message = document.getElementById("message");
  button.disabled = true;
  const name = button.dataset.name;
  const response = await fetch(`/instances/${encodeURIComponent(name)}/${button.dataset.action}`, {
    method: "POST",
  });
  const answer = response.ok ? await response.json() : { status: response.status, payload: null };
  if (answer.status >= 400) {
    const error = (answer.payload && answer.payload.error) || {};
    const details = (error.details || []).map((d) => d.message).join("; ");
    message.textContent = `${name}: ${error.message || `HTTP ${answer.status}`}${details ? ` (${details})` : ""}`;
    message.hidden = false;
    message.classList.add("error");
    button.disabled = false;
    return;
  }
  window.location.reload();
});
