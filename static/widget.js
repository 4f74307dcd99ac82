/* Small behaviours htmx does not give for free. No inline script anywhere (CSP). */
(function () {
  "use strict";
  // A request that never reached the server: tell the person, in the page's language.
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("messages");
    var text = document.documentElement.getAttribute("data-offline-message");
    if (!box || !text) return;
    box.innerHTML = "";
    var p = document.createElement("p");
    p.className = "message error";
    p.setAttribute("role", "alert");
    p.setAttribute("tabindex", "-1");
    p.textContent = text;
    box.appendChild(p);
    p.focus();
  });
})();
