/* The shop tablet's own behaviour, beyond htmx. No inline script anywhere (CSP).

   Nothing of a customer may outlive their visit: not in the DOM, the script's memory,
   the history or the back/forward cache. So a visit always ends with
   location.replace(<the welcome screen>): a new document, in place of this one, with no
   new history entry. Two things end a visit:
   - "I'm done" (a form[data-kiosk-done]): its post ends the session on the server;
   - the idle reset: after data-idle-seconds without a touch or a key (the last ten
     seconds counted down on screen, with "I'm still here"), the same.
   The timer runs only once someone has touched the screen: an untouched welcome screen
   has nothing to forget. The language buttons replace the page too, so choosing a
   language adds no history entry either. */
(function () {
  "use strict";
  var kiosk = document.getElementById("kiosk");
  if (!kiosk) return;
  var welcome = kiosk.getAttribute("data-welcome-url");
  var idle = parseInt(kiosk.getAttribute("data-idle-seconds"), 10) || 60;
  var warning = Math.min(10, idle);
  var box = document.getElementById("kiosk-idle");
  var count = document.getElementById("kiosk-idle-seconds");
  var stillHere = document.getElementById("kiosk-still-here");
  var last = Date.now();
  var timer = null;
  var ending = false;
  var focusBefore = null;

  function restart() { location.replace(welcome); }

  function end() {
    if (ending) return;
    ending = true;
    if (timer) clearInterval(timer);
    timer = null;
    var done = kiosk.querySelector("form[data-kiosk-done]");
    var body = done ? new URLSearchParams(new FormData(done)) : null;
    var action = done ? done.action : null;
    kiosk.innerHTML = "";  // off the screen at once, whatever the network does
    box.hidden = true;
    if (!body) { restart(); return; }
    var fallback = setTimeout(restart, 3000);
    // keepalive: the post is sent even though the page goes away right after.
    fetch(action, {method: "POST", body: body, keepalive: true, credentials: "same-origin"})
      .catch(function () { /* the server ends the session on its own later */ })
      .then(function () { clearTimeout(fallback); restart(); });
  }

  function hideCountdown() {
    if (box.hidden) return;
    box.hidden = true;
    if (focusBefore && document.contains(focusBefore)) focusBefore.focus();
    focusBefore = null;
  }

  function active() {
    if (ending) return;
    last = Date.now();
    hideCountdown();
    if (!timer) timer = setInterval(tick, 1000);
  }

  function tick() {
    var left = Math.ceil(idle - (Date.now() - last) / 1000);
    if (left <= 0) { end(); return; }
    if (left > warning) return;
    count.textContent = String(left);
    if (box.hidden) {
      focusBefore = document.activeElement;
      box.hidden = false;
      stillHere.focus();
    }
  }

  ["pointerdown", "keydown", "input"].forEach(function (name) {
    document.addEventListener(name, active, true);
  });
  stillHere.addEventListener("click", active);
  // A new screen (htmx) is activity too: it starts the timer once a customer is identified.
  document.body.addEventListener("htmx:afterSwap", active);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-kiosk-done")) {
      event.preventDefault();
      end();
    } else if (form.hasAttribute("data-kiosk-language")) {
      event.preventDefault();
      var query = new URLSearchParams(new FormData(form));
      var button = event.submitter;
      if (button && button.name) query.set(button.name, button.value);
      location.replace(form.action + "?" + query.toString());
    }
  });

  // A page the browser restores from its back/forward cache is loaded afresh instead.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) location.reload();
  });
})();
