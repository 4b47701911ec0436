// The softphone: Twilio's Voice SDK Device, registered as client:<agent> with a token from the
// hotline, so the hotline's <Dial><Client> rings here. Answer, mute and hang up act on that call.
"use strict";

const softphone = (() => {
  let device = null;
  let call = null;            // the incoming or connected call
  const $ = (id) => document.getElementById(id);

  function buttons() {
    const ringing = call !== null && call.status() === "pending";
    const open = call !== null && call.status() === "open";
    $("answer").disabled = !ringing;
    $("hangup").disabled = !(ringing || open);
    $("mute").disabled = !open;
    $("mute").setAttribute("aria-pressed", String(open && call.isMuted()));
  }

  function status(registered) {
    $("softphone-status").textContent = registered ? T.softphone_ready : T.softphone_offline;
  }

  async function token() {
    return (await api("GET", "/agent/voice-token")).token;
  }

  async function start() {
    try {
      device = new Twilio.Device(await token(), { closeProtection: true });
      device.on("registered", () => status(true));
      device.on("unregistered", () => status(false));
      device.on("error", (err) => showMessage(`${T.error}: ${err.message}`, true));
      device.on("tokenWillExpire", async () => device.updateToken(await token()));
      device.on("incoming", (incoming) => {
        call = incoming;
        for (const event of ["accept", "mute"]) call.on(event, buttons);
        for (const event of ["disconnect", "cancel", "reject"]) call.on(event, () => { call = null; buttons(); });
        buttons();
      });
      await device.register();
    } catch (err) {
      status(false);
      showMessage(`${T.error}: ${err.message}`, true);
    }
  }

  return {
    start,
    answer() { if (call) call.accept(); },
    hangup() {
      if (!call) return;
      if (call.status() === "pending") call.reject(); else call.disconnect();
    },
    mute() { if (call) { call.mute(!call.isMuted()); buttons(); } },
  };
})();

softphone.start();
