// Mon DMP — passkeys (WebAuthn): the browser asks the device to make one, or to sign in with
// one. A form marked data-passkey ("register" or "login") is shown only where the browser can
// do it. On submit its options are fetched from the server (data-options, with the form's own
// fields: the CSRF token, the key's name), the device answers, and the answer goes back in the
// form's hidden "credential" field: the server decides, as for any form.
"use strict";
(() => {
  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };
  const toText = (buffer) => {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: toBytes(d.id) }));

  const creation = (options) => ({
    ...options,
    challenge: toBytes(options.challenge),
    user: { ...options.user, id: toBytes(options.user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  });
  const request = (options) => ({
    ...options,
    challenge: toBytes(options.challenge),
    allowCredentials: descriptors(options.allowCredentials),
  });

  const answer = (credential) => {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    });
  };

  const say = (form, text) => {
    const status = form.parentElement.querySelector("[data-passkey-status]");
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  };

  // The browser's own messages are in its language: ours are French, and said as they are.
  const explain = (error) => {
    if (error && error.ours) return error.message;
    if (error && error.name === "NotAllowedError") {
      return "L'opération a été annulée ou a expiré. Vous pouvez recommencer.";
    }
    if (error && error.name === "InvalidStateError") {
      return "Cet appareil porte déjà une clé d'accès pour votre compte.";
    }
    return "La clé d'accès n'a pas pu être utilisée sur cet appareil.";
  };

  const options = async (form) => {
    const fields = new FormData(form);
    fields.delete("credential");
    const reply = await fetch(form.dataset.options, { method: "POST", body: fields });
    let body = null;
    try { body = await reply.json(); } catch (_) { body = null; }
    if (reply.ok && body) return body;
    if (body && body.location) { window.location.assign(body.location); return null; }
    const refusal = new Error((body && body.message) || "La demande n'a pas abouti. Rechargez la page.");
    refusal.ours = true;
    throw refusal;
  };

  const ceremony = async (form) => {
    const publicKey = await options(form);
    if (!publicKey) return;
    const credential = form.dataset.passkey === "register"
      ? await navigator.credentials.create({ publicKey: creation(publicKey) })
      : await navigator.credentials.get({ publicKey: request(publicKey) });
    form.elements.credential.value = answer(credential);
    form.submit();
  };

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    for (const form of document.querySelectorAll("form[data-passkey]")) {
      form.hidden = false;
      const note = form.parentElement.querySelector("[data-passkey-unsupported]");
      if (note) note.hidden = true;
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        say(form, "");
        ceremony(form).catch((error) => say(form, explain(error)));
      });
    }
  });
})();
