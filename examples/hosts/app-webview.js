// The app shell: mount the widget with the app's settings, pass its events to the app.
const settings = new URLSearchParams(location.search);
const host = document.getElementById("prefs");

PreferenceCenter.mount(host, {
  center: document.body.dataset.center,
  token: settings.get("t") || document.body.dataset.token,
  locale: settings.get("locale"),
  theme: settings.get("theme") || "auto",
  tz: settings.get("tz") || Intl.DateTimeFormat().resolvedOptions().timeZone,
  title: "Notification preferences",
});

// The same object the widget posts, to whichever bridge the app installed.
function toApp(event) {
  const message = { source: "preference-center", type: event.type, detail: event.detail };
  const json = JSON.stringify(message);
  const ios = window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.preferences;
  if (ios) ios.postMessage(message);
  if (window.PreferencesAndroid) window.PreferencesAndroid.postMessage(json);
  if (window.ReactNativeWebView) window.ReactNativeWebView.postMessage(json);
}
for (const type of ["preferences:ready", "preferences:saved", "preferences:error"]) host.addEventListener(type, toApp);
