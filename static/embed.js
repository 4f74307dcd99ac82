/* Preference center loader; usage in examples/hosts/. Served as is: under 1 KB gzipped. */
(() => {
  "use strict";
  const me = document.currentScript || [...document.scripts].find((s) => /\/embed\.js([?#]|$)/.test(s.src));
  const origin = new URL(me.src).origin;
  // option (data-*) -> query parameter of the widget page
  const PARAMS = { locale: "lang", topics: "topics", theme: "mode", primary: "primary", radius: "radius", spacing: "spacing", font: "font", tz: "tz" };

  const mount = (host, o) => {
    const q = new URLSearchParams({ t: o.token, embed_origin: location.origin });
    for (const k in PARAMS) if (o[k]) q.set(PARAMS[k], o[k]);
    const frame = document.createElement("iframe");
    frame.src = `${origin}/c/${encodeURIComponent(o.center)}/preferences?${q}`;
    frame.title = o.title || "Communication preferences";
    frame.loading = "lazy";
    frame.style.cssText = "display:block;border:0;width:100%;height:600px";
    addEventListener("message", (e) => {
      const d = e.data;
      if (e.source !== frame.contentWindow || e.origin !== origin || !d || d.source !== "preference-center") return;
      const h = d.height;
      if (typeof h == "number" && h >= 100 && h <= 20000) frame.style.height = h + "px";
      if (/^preferences:(ready|saved|error)$/.test(d.type)) {
        host.dispatchEvent(new CustomEvent(d.type, { detail: d.detail, bubbles: true }));
      }
    });
    host.appendChild(frame);
    return frame;
  };
  window.PreferenceCenter = window.PreferenceCenter || { mount };

  const d = me.dataset;
  const start = () => {
    const host = d.target ? document.querySelector(d.target) : document.createElement("div");
    if (!host) {
      if (document.readyState == "loading") return addEventListener("DOMContentLoaded", start);
      return console.warn("embed.js: nothing matches data-target", d.target);
    }
    if (!d.target) me.after(host);
    mount(host, d);
  };
  if (document.currentScript && d.center) start();
})();
