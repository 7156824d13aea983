// Card login and card management: talks to the local card agent (docs/agent.md) over WebSocket and to
// the server over JSON. PINs go to the agent only; the server sees signatures, certificates and challenges.
(function () {
  "use strict";
  const root = document.getElementById("card-app");
  if (!root) { return; }
  const english = root.dataset.lang === "en";
  // The page's words come from the server's catalogue (core/labels.py), handed over as JSON in data-texts.
  const TEXTS = JSON.parse(root.dataset.texts || "{}");
  const T = (key) => TEXTS[key] || key;
  const statusEl = document.getElementById("card-status");
  const messageEl = document.getElementById("card-message");
  const helpEl = document.getElementById("agent-help");
  const FLASH = "eportcard-card-message";

  function say(text, kind) {
    if (!messageEl) { return; }
    messageEl.textContent = text;
    messageEl.dataset.kind = kind || "info";
  }

  // ---- the local agent ----------------------------------------------------------------------------------
  let ws = null;
  let nextId = 1;
  const pending = new Map();
  const listeners = [];

  function agentError(args) {
    const details = args.Data && args.Data[0];
    if (details && details.zh) {
      const error = new Error(english ? details.en : details.zh);
      error.code = details.code;
      error.triesLeft = details.triesLeft;
      return error;
    }
    const text = (args.Error && args.Error[0]) || "error";
    const parts = text.split(" / ");
    const error = new Error(english && parts[1] ? parts[1] : parts[0]);
    error.code = (args.Error && args.Error[1] || "").replace("Err:", "");
    return error;
  }

  function connect() {
    return new Promise((resolve, reject) => {
      let opened = false;
      try {
        ws = new WebSocket(root.dataset.agentUrl);
      } catch (e) {
        reject(e);
        return;
      }
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message._method === "open") { opened = true; resolve(); return; }
        if (message._method === "cardEvent") { listeners.forEach((f) => f(message._args.Data[0])); return; }
        const done = pending.get(message._id);
        if (done) { pending.delete(message._id); done(message._args); }
      };
      ws.onclose = () => {
        pending.forEach((done) => done({ Result: false, Data: [], Error: [T("cards.js.agent_gone")] }));
        pending.clear();
        if (!opened) { reject(new Error("refused")); } else { agentDown(); }
      };
    });
  }

  function call(method, args) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) { reject(new Error(T("cards.js.agent_not_connected"))); return; }
      const id = nextId++;
      pending.set(id, (result) => (result.Result ? resolve(result.Data) : reject(agentError(result))));
      ws.send(JSON.stringify({ _method: method, _id: id, args: args || {} }));
    });
  }

  function agentDown() {
    if (statusEl) {
      statusEl.dataset.state = "down";
      statusEl.textContent = T("cards.js.agent_down");
    }
    if (helpEl) { helpEl.hidden = false; }
    setReady(false);
  }

  // ---- the server ---------------------------------------------------------------------------------------
  async function server(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": root.dataset.csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = data.error || {};
      throw new Error(english ? (error.en || response.statusText) : (error.zh || response.statusText));
    }
    return data;
  }

  // ---- card presence -------------------------------------------------------------------------------------
  let present = null;

  function setReady(ready) {
    document.querySelectorAll("#card-login-button, .card-action, #renew-legal, #change-pin, #unlock-continue, #renew-continue").forEach((b) => {
      b.disabled = !ready;
    });
  }

  async function refreshStatus() {
    let status;
    try {
      [status] = await call("eport-card_Status");
    } catch (e) {
      say(e.message, "error");
      return;
    }
    present = status.present ? status : null;
    statusEl.dataset.state = status.present ? "present" : "absent";
    statusEl.dataset.serial = status.serial || "";
    if (!status.present) {
      statusEl.textContent = T("cards.js.no_card") +
        (status.reader ? " (" + status.reader + ")" : "");
    } else {
      const kind = status.kind ? (TEXTS["kind." + status.kind] || status.kind) : T("state.blank");
      statusEl.textContent = [T("cards.js.inserted") + ": " + kind,
        status.holder || "", status.cardId,
        status.blocked ? T("cards.js.locked") : T("cards.js.tries_left") + status.triesLeft,
      ].filter(Boolean).join(" · ");
    }
    setReady(Boolean(status.present));
    if (status.present && status.certNo && document.getElementById("change-pin")) {  // card session page
      // The server learns of a PIN changed or a card blocked here only from this report.
      server("/portal/cards/status", { certNo: status.certNo, pinIsInitial: status.pinIsInitial, triesLeft: status.triesLeft })
        .catch(() => {});  // another enterprise's card in the reader: nothing to record
    }
  }

  listeners.push(() => { refreshStatus(); });

  function pinOf(id) {
    const field = document.getElementById(id);
    const pin = field ? field.value : "";
    if (!pin) { throw new Error(T("cards.js.enter_pin")); }
    return pin;
  }

  function clearPins() {
    document.querySelectorAll("input[type=password]").forEach((f) => { f.value = ""; });
  }

  async function guarded(work) {
    say(T("cards.js.working"));
    try {
      await work();
    } catch (e) {
      say(e.message, "error");
      refreshStatus();
    } finally {
      clearPins();
    }
  }

  function reloadWith(text) {
    sessionStorage.setItem(FLASH, text);
    window.location.reload();
  }

  // ---- card login ----------------------------------------------------------------------------------------
  async function cardLogin() {
    const pin = pinOf("card-pin");
    const challenge = await server("/portal/card-login/challenge");
    const [signature, , certificate] = await call("eport-card_SignChallenge", { challenge: challenge.challenge, passwd: pin });
    const reply = await server("/portal/card-login", { nonce: challenge.nonce, signature, certificate, next: root.dataset.next || "" });
    window.location.assign(reply.redirect);
  }

  // ---- operator cards, authorised by the legal card ---------------------------------------------------------
  let grant = null;
  const continueButton = document.getElementById("unlock-continue");

  async function operatorAction(cardId, action) {
    const pin = pinOf("legal-pin");
    const challenge = await server("/portal/cards/challenge");
    const message = "eportcard-operator-action|" + challenge.nonce + "|" + action + "|" + cardId;
    const [signature, , certificate] = await call("eport-card_SignChallenge", { challenge: message, passwd: pin });
    const reply = await server("/portal/cards/" + encodeURIComponent(cardId) + "/action",
      { action, nonce: challenge.nonce, signature, certificate });
    if (reply.grant) {
      grant = reply.grant;
      pendingRenewal = null;
      const renewing = grant.action === "renew";
      document.getElementById("unlock-step").hidden = renewing;
      document.getElementById("renew-step").hidden = !renewing;
      say(renewing
        ? T("cards.js.authorised_renew")
        : T("cards.js.authorised_unlock"));
      return;
    }
    reloadWith(T("cards.js.done"));
  }

  async function continueUnlock() {
    if (!grant || grant.action !== "unlock") { throw new Error(T("cards.js.grant_unlock_first")); }
    const [card] = await call("eport-card_GetChallenge");
    if (card.serial !== grant.serial) {
      throw new Error(T("cards.js.wrong_unlock_card"));
    }
    const released = await server("/portal/cards/" + encodeURIComponent(grant.cardId) + "/unblock",
      { grant: grant.token, serial: card.serial, challenge: card.challenge });
    await call("eport-card_ApplyUnblock", { cryptogram: released.cryptogram });
    grant = null;
    reloadWith(T("cards.js.unlocked"));
  }

  // The operator card's own challenge, released against the grant; eport-card_Renew checks the card's
  // PIN (the operator card's, typed at this desk), writes the certificate; then the server confirms.
  // After a wrong PIN the release is kept: its cryptogram still answers the card's challenge while the
  // card stays in the reader, so the retry needs no new grant.
  let pendingRenewal = null;

  async function continueRenewal() {
    const pin = pinOf("operator-pin");
    if (!pendingRenewal) {
      if (!grant || grant.action !== "renew") {
        throw new Error(T("cards.js.grant_renew_first"));
      }
      const [card] = await call("eport-card_GetChallenge");
      if (card.serial !== grant.serial) {
        throw new Error(T("cards.js.wrong_renew_card"));
      }
      if (card.blocked) {
        throw new Error(T("cards.js.operator_locked"));
      }
      const base = "/portal/cards/" + encodeURIComponent(grant.cardId) + "/renewal";
      const released = await server(base, { grant: grant.token, serial: card.serial, challenge: card.challenge, publicKey: card.publicKey });
      pendingRenewal = { base, released };
      grant = null;  // used up by the release
    }
    const { base, released } = pendingRenewal;
    try {
      await call("eport-card_Renew", { passwd: pin, cryptogram: released.cryptogram, certificate: released.certificate });
    } catch (e) {
      if (e.code !== "wrong_pin") { pendingRenewal = null; }  // anything else needs a new authorisation
      throw e;
    }
    pendingRenewal = null;
    await server(base + "/confirm", { certificate: released.certificate });
    reloadWith(T("cards.js.operator_renewed"));
  }

  // ---- legal-card renewal and PIN change ---------------------------------------------------------------------
  async function renewLegal(button) {
    const pin = pinOf("legal-pin");
    const [card] = await call("eport-card_GetChallenge");
    if (card.serial !== button.dataset.serial) {
      throw new Error(T("cards.js.wrong_legal_card"));
    }
    const base = "/portal/cards/" + encodeURIComponent(button.dataset.cardId) + "/renewal";
    const released = await server(base, { serial: card.serial, challenge: card.challenge, publicKey: card.publicKey });
    await call("eport-card_Renew", { passwd: pin, cryptogram: released.cryptogram, certificate: released.certificate });
    await server(base + "/confirm", { certificate: released.certificate });
    reloadWith(T("cards.js.legal_renewed"));
  }

  async function changePin() {
    const oldPin = pinOf("old-pin");
    const newField = document.getElementById("new-pin");
    const newPin = newField.value;
    await call("cus-sec_SpcChangePIN", { oldPin, newPin });  // the agent's error names the tries left
    say(T("cards.js.pin_changed"), "done");
    refreshStatus();
  }

  // ---- wiring --------------------------------------------------------------------------------------------------
  const flash = sessionStorage.getItem(FLASH);
  if (flash) { sessionStorage.removeItem(FLASH); say(flash, "done"); }
  setReady(false);

  const loginButton = document.getElementById("card-login-button");
  if (loginButton) { loginButton.addEventListener("click", () => guarded(cardLogin)); }
  document.querySelectorAll(".card-action").forEach((button) => {
    const row = button.closest("tr");
    button.addEventListener("click", () => {
      // 作废 revokes the card's certificate for good: the browser's own dialog asks first.
      if (button.dataset.action === "void" && !window.confirm(T("cards.js.confirm_void"))) { return; }
      guarded(() => operatorAction(row.dataset.cardId, button.dataset.action));
    });
  });
  if (continueButton) { continueButton.addEventListener("click", () => guarded(continueUnlock)); }
  const renewContinue = document.getElementById("renew-continue");
  if (renewContinue) { renewContinue.addEventListener("click", () => guarded(continueRenewal)); }
  const renewButton = document.getElementById("renew-legal");
  if (renewButton) { renewButton.addEventListener("click", () => guarded(() => renewLegal(renewButton))); }
  const pinButton = document.getElementById("change-pin");
  if (pinButton) { pinButton.addEventListener("click", () => guarded(changePin)); }

  connect().then(refreshStatus, agentDown);
})();
