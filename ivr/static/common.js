// What both pages share: their data, the JSON API with the session's CSRF token, errors in words,
// durations, and a live stream that says when it is connected.
"use strict";

const PAGE = JSON.parse(document.getElementById("page-data").textContent);
const T = PAGE.t;

function showMessage(text, isError) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = isError ? "message error" : "message";
  box.hidden = !text;
}

// Calls the hotline's JSON API; resolves to the answer's body, or rejects with the API's error in words.
async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { "X-CSRF-Token": PAGE.csrf } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, options);
  } catch (err) {
    throw new Error(T.connection_lost);
  }
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) {
    showMessage(T.expired, true);
    setTimeout(() => window.location.reload(), 1500);
  }
  if (!resp.ok) {
    const field = data.field ? ` (${data.field})` : "";
    throw new Error(`${T.error}: ${data.error || resp.statusText}${field}`);
  }
  return data;
}

// "m:ss", or "h:mm:ss" past an hour.
function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

// Opens an event stream; `onData` gets each parsed event named `name`. The browser reconnects by
// itself; a refused stream (signed out, or the server is busy) is retried after a pause.
function liveStream(url, name, onData) {
  const status = document.getElementById("connection");
  let source = null;
  function open() {
    source = new EventSource(url);
    source.addEventListener(name, (event) => {
      status.textContent = T.connection_live;
      status.className = "connection live";
      onData(JSON.parse(event.data));
    });
    source.onerror = () => {
      status.textContent = T.connection_lost;
      status.className = "connection lost";
      if (source.readyState === EventSource.CLOSED) {  // refused: not a dropped connection
        source.close();
        setTimeout(open, 3000);
        PAGE.probe().catch(() => {});  // signed out? the API says 401, and the page reloads
      }
    };
  }
  open();
}
