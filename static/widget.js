/* The widget's own behaviour, beyond htmx. No inline script anywhere (CSP).

   Embedded, it tells the page around it what happens, as
   {source: "preference-center", type, height, detail}:
   - to the embedding page (postMessage, only to the origin the server vouched for in
     <html data-embed-origin>, which must be one of the center's allowed origins);
   - to a native app's WebView bridge, when there is one (iOS, Android, React Native).
   Types: preferences:ready, preferences:resize, preferences:saved, preferences:error. */
(function () {
  "use strict";
  var root = document.documentElement;
  var origin = root.getAttribute("data-embed-origin");
  var lastHeight = 0;

  // The content's own height: scrollHeight never drops below the frame's, so a frame
  // sized by it could grow but never shrink back.
  function height() { return Math.ceil(document.body.getBoundingClientRect().height); }

  function tell(type, detail) {
    var message = {source: "preference-center", type: type, height: height(), detail: detail || {}};
    if (window.parent !== window) {
      if (origin) window.parent.postMessage(message, origin);
      return;  // framed: the host page relays to a native bridge if it has one, once
    }
    var json = JSON.stringify(message);
    try {
      if (window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.preferences) {
        window.webkit.messageHandlers.preferences.postMessage(message);
      }
      if (window.PreferencesAndroid && window.PreferencesAndroid.postMessage) window.PreferencesAndroid.postMessage(json);
      if (window.ReactNativeWebView && window.ReactNativeWebView.postMessage) window.ReactNativeWebView.postMessage(json);
    } catch (ignored) { /* a bridge that fails must not break the page */ }
  }

  function resized() {
    var now = height();
    if (now !== lastHeight) {
      lastHeight = now;
      tell("preferences:resize");
    }
  }

  // Events the server raises through HX-Trigger after a save or an error.
  // htmx adds the element to the detail, which cannot cross postMessage: copy the data only.
  document.addEventListener("preferences:saved", function (event) {
    tell("preferences:saved", {version: event.detail.version, changes: event.detail.changes});
  });
  document.addEventListener("preferences:error", function (event) {
    tell("preferences:error", {status: event.detail.status});
  });

  // A request that never reached the server: tell the person, in the page's language.
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("messages");
    var text = root.getAttribute("data-offline-message");
    if (box && text) {
      box.innerHTML = "";
      var p = document.createElement("p");
      p.className = "message error";
      p.setAttribute("role", "alert");
      p.setAttribute("tabindex", "-1");
      p.textContent = text;
      box.appendChild(p);
      p.focus();
    }
    tell("preferences:error", {status: 0});
  });

  function start() {
    lastHeight = height();
    tell("preferences:ready");
    if (window.ResizeObserver) new ResizeObserver(resized).observe(document.body);
    else window.addEventListener("resize", resized);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
