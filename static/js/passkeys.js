// Passkeys (WebAuthn): adding one on the account page, and logging in with one (as the second factor
// after the password, or alone on the login page).
//
// The server hands out the options (with a single-use challenge it keeps); this module turns their
// base64url fields into bytes, runs the browser's ceremony, and sends the answer back as JSON with the
// CSRF header (postJSON in keystore.js).
"use strict";

import { t } from "./i18n.js";
import { errorMessage, postJSON } from "./keystore.js";

function toBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (ch) => ch.charCodeAt(0));
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function say(message, kind) {
  const line = document.getElementById("passkey-status");
  if (!line) return;
  line.hidden = false;
  line.textContent = message;
  line.className = `flash flash-${kind}`;
}

function available() {
  return Boolean(window.isSecureContext && window.PublicKeyCredential && navigator.credentials);
}

function descriptors(list) {
  return (list || []).map((item) => ({ ...item, id: toBytes(item.id) }));
}

function ceremonyError(error) {
  if (error && error.name === "NotAllowedError") return t("The passkey request was cancelled or timed out.");
  if (error && error.name === "InvalidStateError") return t("This device already holds a passkey for your account.");
  return t("The browser could not use a passkey: %(error)s", { error: error && error.message ? error.message : error });
}

async function register(form, event) {
  event.preventDefault();
  const button = document.getElementById("passkey-register");
  const name = document.getElementById("passkey-name").value.trim();
  if (!name) {
    say(t("Give the passkey a name, such as the device or password manager that keeps it."), "error");
    return;
  }
  if (!available()) {
    say(t("This browser cannot use passkeys here (it needs a current browser and a secure connection)."), "error");
    return;
  }
  button.disabled = true;
  try {
    const started = await postJSON(form.dataset.optionsUrl, {});
    if (!started.ok) {
      say(errorMessage(started), "error");
      return;
    }
    const options = started.data;
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    say(t("Follow your browser's prompt to make the passkey…"), "info");
    let credential;
    try {
      credential = await navigator.credentials.create({ publicKey: options });
    } catch (error) {
      say(ceremonyError(error), "error");
      return;
    }
    const response = credential.response;
    const answer = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: typeof response.getTransports === "function" ? response.getTransports() : [],
      },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
    const saved = await postJSON(form.dataset.registerUrl, { name, credential: answer });
    if (!saved.ok) {
      say(errorMessage(saved), "error");
      return;
    }
    say(t("The passkey “%(name)s” is added.", { name: saved.data.name }), "success");
    window.location.reload();
  } finally {
    button.disabled = false;
  }
}

async function logIn(button) {
  if (!available()) {
    say(t("This browser cannot use passkeys here (it needs a current browser and a secure connection)."), "error");
    return;
  }
  button.disabled = true;
  try {
    const started = await postJSON(button.dataset.optionsUrl, {});
    if (!started.ok) {
      say(errorMessage(started), "error");
      return;
    }
    const options = started.data;
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    say(t("Follow your browser's prompt to use your passkey…"), "info");
    let credential;
    try {
      credential = await navigator.credentials.get({ publicKey: options });
    } catch (error) {
      say(ceremonyError(error), "error");
      return;
    }
    const response = credential.response;
    const answer = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined,
      },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
    const done = await postJSON(button.dataset.loginUrl, { credential: answer });
    if (!done.ok) {
      say(errorMessage(done), "error");
      return;
    }
    say(t("Logged in."), "success");
    window.location.assign(done.data.redirect);
  } finally {
    button.disabled = false;
  }
}

const registerForm = document.getElementById("passkey-register-form");
if (registerForm) {
  registerForm.addEventListener("submit", (event) => register(registerForm, event));
}
const loginButton = document.getElementById("passkey-login");
if (loginButton) {
  loginButton.addEventListener("click", () => logIn(loginButton));
}
