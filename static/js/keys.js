// /account/keys: make an Ed25519 key in this browser and enrol its public half.
//
// The key pair is generated non-extractable and kept in IndexedDB (keystore.js); only the raw
// 32-byte public key is sent, with a label and the account password, to the JSON endpoint.
"use strict";

import { t } from "./i18n.js";
import {
  allKeys,
  bytesToBase64,
  cryptoAvailable,
  deleteKey,
  errorMessage,
  fingerprintOf,
  postJSON,
  putKey,
} from "./keystore.js";

const form = document.getElementById("enrol-form");
const statusLine = document.getElementById("enrol-status");
const button = document.getElementById("enrol-button");

function say(message, kind) {
  statusLine.hidden = false;
  statusLine.textContent = message;
  statusLine.className = `enrol-status flash flash-${kind}`;
}

async function markKeysInThisBrowser() {
  let stored = [];
  try {
    stored = await allKeys();
  } catch (error) {
    for (const cell of document.querySelectorAll("#keys-table td.in-browser")) {
      cell.textContent = t("unknown (no key storage)");
    }
    return;
  }
  const here = new Set(stored.map((record) => record.fingerprint));
  for (const row of document.querySelectorAll("#keys-table tr[data-fingerprint]")) {
    const cell = row.querySelector("td.in-browser");
    const present = here.has(row.dataset.fingerprint);
    cell.textContent = present ? t("yes, in this browser") : t("no");
    cell.classList.toggle("muted", !present);
    cell.classList.toggle("key-here", present);
  }
}

async function enrol(event) {
  event.preventDefault();
  const label = document.getElementById("key-label").value.trim();
  const passwordField = document.getElementById("key-password");
  const password = passwordField.value;
  if (!label) {
    say(t("Give the key a label, such as the device it lives on."), "error");
    return;
  }
  if (!password) {
    say(t("Enter your Accord password: enrolling a key asks for it again."), "error");
    return;
  }
  button.disabled = true;
  say(t("Making a key in this browser…"), "info");
  let fingerprint = null;
  try {
    let keyPair;
    try {
      keyPair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    } catch (error) {
      say(t("This browser cannot make Ed25519 keys. Use a current browser, or Accord's command-line tool."), "error");
      return;
    }
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keyPair.publicKey));
    if (raw.length !== 32) {
      say(t("The browser exported a public key of %(bytes)s bytes instead of 32; nothing was enrolled.", { bytes: raw.length }), "error");
      return;
    }
    fingerprint = await fingerprintOf(raw);
    // Keep the key before the server learns of it, so an enrolled key is never without its private half.
    await putKey({ fingerprint, keyPair, label, createdAt: new Date().toISOString() });
    say(t("Enrolling the key %(fingerprint)s…", { fingerprint }), "info");
    const result = await postJSON(form.dataset.enrolUrl, { public_key: bytesToBase64(raw), label, password });
    passwordField.value = "";
    if (!result.ok) {
      if (result.status >= 400 && result.status < 500) {
        await deleteKey(fingerprint);  // refused for certain: the server holds nothing
        say(t("%(reason)s The key was not kept.", { reason: errorMessage(result) }), "error");
      } else {
        say(t("%(reason)s Reload this page to see whether the key was enrolled.", { reason: errorMessage(result) }), "error");
      }
      return;
    }
    if (result.data.fingerprint !== fingerprint) {
      await deleteKey(fingerprint);
      say(t("Accord reports the fingerprint %(fingerprint)s, but this browser computed %(fingerprint2)s. The key was not kept; revoke the enrolled key below.", { fingerprint: result.data.fingerprint, fingerprint2: fingerprint }), "error");
      return;
    }
    say(t("Enrolled. Fingerprint %(fingerprint)s (the same in this browser and on the server).", { fingerprint }), "success");
    window.location.assign(form.dataset.keysUrl);
  } catch (error) {
    if (fingerprint) {
      try { await deleteKey(fingerprint); } catch (ignored) { /* nothing more to undo */ }
    }
    say(t("The key could not be made or stored in this browser: %(error)s", { error: error && error.message ? error.message : error }), "error");
  } finally {
    button.disabled = false;
  }
}

if (form) {
  if (cryptoAvailable()) {
    form.addEventListener("submit", enrol);
    button.disabled = false;
  } else {
    say(t("This page must be opened over HTTPS (a secure context) to make keys."), "error");
  }
  markKeysInThisBrowser();
}
