// The agent desktop: state buttons, time in state, heartbeat, the screen pop pushed by the
// hotline when a call rings, the phone (on the local stand-in), transfer and wrap-up.
"use strict";

let desk = null;          // the last desk state pushed by the hotline
let clockOffset = 0;      // server time minus this browser's time, in ms

const $ = (id) => document.getElementById(id);

function render(state) {
  desk = state;
  clockOffset = Date.parse(state.now) - Date.now();
  const agent = state.agent;
  if (!agent) return;
  const stateBox = $("state");
  stateBox.textContent = T["st_" + agent.state] || agent.state;
  stateBox.dataset.state = agent.state;
  $("reason").textContent = agent.state === "not_ready" && agent.reason ? `(${agent.reason})` : "";
  const call = state.call;
  $("ringing").hidden = agent.state !== "ringing";
  $("no-call").hidden = Boolean(call);
  $("pop").hidden = !call;
  document.body.classList.toggle("is-ringing", agent.state === "ringing");
  if (call) {
    $("pop-ref").textContent = call.ref;
    $("pop-account").textContent = call.account || "—";
    $("pop-verified").textContent = call.verified
      ? `${T.verified} (${call.verification === "caller_id" ? T.by_caller_id : T.by_second_factor})`
      : T.not_verified;
    $("pop-issue").textContent = call.issue ? (PAGE.issues[call.issue] || {})[PAGE.locale] || call.issue : "—";
    const names = PAGE.departments[call.department] || {};
    $("pop-department").textContent = names[PAGE.locale] || call.department || "—";
    $("pop-language").textContent = call.language || "—";
    $("pop-waited").textContent = duration(call.waited_seconds);
    $("pop-previous").textContent = String(call.previous_calls_7d);
    const notes = $("pop-notes");
    notes.replaceChildren(...call.notes.map((note) => {
      const item = document.createElement("li");
      // A wrap-up may carry a disposition and no words: show what there is, never a bare colon.
      const what = [note.disposition, note.text].filter(Boolean).join(": ");
      item.textContent = `${note.agent}${note.to ? " → " + note.to : ""}${what ? ": " + what : ""}`;
      return item;
    }));
  }
  if (PAGE.standin) {
    $("answer").disabled = agent.state !== "ringing";
    $("hangup").disabled = !(agent.state === "ringing" || agent.state === "on_call");
  }
  if (agent.state !== shownState) {
    shownState = agent.state;
    followWithFocus(agent.state);
  }
  tick();
}

// From the keyboard, the next step of a call is where the focus goes: Answer when it rings, Hang up
// on the call, the disposition in wrap-up. Only from a button or nowhere (a button just pressed, or
// disabled under the focus): an agent typing notes or choosing in a list keeps their place.
let shownState = null;
const NEXT_STEP = { ringing: "answer", on_call: "hangup", wrap_up: "disposition" };

function followWithFocus(state) {
  const next = $(NEXT_STEP[state] || "");
  const here = document.activeElement;
  const idle = !here || here === document.body || here.disabled || here.tagName === "BUTTON";
  if (next && !next.disabled && idle) next.focus();
}

function tick() {
  if (!desk || !desk.agent) return;
  const since = Date.parse(desk.agent.since);
  $("time-in-state").textContent = duration((Date.now() + clockOffset - since) / 1000);
}

async function act(work, done) {
  showMessage("", false);
  try {
    await work();
    if (done) showMessage(done, false);
  } catch (err) {
    showMessage(err.message, true);
  }
}

function chooseState(state) {
  const body = { state };
  if (state === "not_ready") body.reason = $("reason-select").value;
  return act(() => api("PUT", "/api/agent/state", body));
}

function phone(kind) {
  return act(() => api("POST", "/agent/phone", { kind }));
}

function beat() {
  api("POST", "/api/agent/heartbeat").catch((err) => showMessage(`${T.heartbeat_lost}: ${err.message}`, true));
  if (PAGE.standin) api("POST", "/agent/phone", { kind: "register" }).catch((err) => showMessage(err.message, true));
}

$("go-ready").addEventListener("click", () => chooseState("ready"));
$("go-not-ready").addEventListener("click", () => chooseState("not_ready"));
$("go-offline").addEventListener("click", () => chooseState("offline"));
if (PAGE.softphone) {  // Twilio's Voice SDK in this page (softphone.js)
  $("answer").addEventListener("click", () => softphone.answer());
  $("mute").addEventListener("click", () => softphone.mute());
  $("hangup").addEventListener("click", () => softphone.hangup());
} else if (PAGE.standin) {  // the local stand-in's phone, through the hotline
  $("answer").addEventListener("click", () => phone("answer"));
  $("hangup").addEventListener("click", () => phone("hangup"));
}
$("transfer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = { notes: $("transfer-notes").value };
  const department = $("transfer-department").value, line = $("transfer-line").value;
  if (department) body.department = department;
  if (line) body.number = PAGE.lines[line];
  act(async () => {
    await api("POST", "/api/agent/call/transfer", body);
    $("transfer-notes").value = "";
  }, T.done);
});
$("wrapup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = { disposition: $("disposition").value, notes: $("wrapup-notes").value };
  act(async () => {
    await api("POST", "/api/agent/call/wrapup", body);
    $("wrapup-notes").value = "";
  }, T.done);
});

PAGE.probe = () => api("GET", "/api/agent/me");
liveStream("/live/agent", "desk", render);
beat();
setInterval(beat, 20000);
setInterval(tick, 1000);
