// /account/keys, "Witness key": make an Ed25519 witness key in this browser and enrol its public half.
//
// Like keys.js for signing keys: the key pair is non-extractable and kept in IndexedDB (witness-store.js)
// before the server learns of it; only the raw 32-byte public key and the password are sent.
"use strict";

import { t } from "./i18n.js";
import { bytesToBase64, cryptoAvailable, errorMessage, fingerprintOf, postJSON } from "./keystore.js";
import { allWitnessKeys, deleteWitnessKey, putWitnessKey } from "./witness-store.js";

const form = document.getElementById("witness-enrol-form");
const statusLine = document.getElementById("witness-enrol-status");
const button = document.getElementById("witness-enrol-button");

function say(message, kind) {
  statusLine.hidden = false;
  statusLine.textContent = message;
  statusLine.className = `enrol-status flash flash-${kind}`;
}

async function markKeysInThisBrowser() {
  let here = new Set();
  try {
    here = new Set((await allWitnessKeys()).map((record) => record.fingerprint));
  } catch (error) {
    return;
  }
  for (const row of document.querySelectorAll("#witness-keys-table tr[data-fingerprint]")) {
    const cell = row.querySelector("td.in-browser");
    const present = here.has(row.dataset.fingerprint);
    cell.textContent = present ? t("yes, in this browser") : t("no");
    cell.classList.toggle("muted", !present);
  }
}

async function enrol(event) {
  event.preventDefault();
  const passwordField = document.getElementById("witness-password");
  const password = passwordField.value;
  if (!password) {
    say(t("Enter your Accord password: enrolling a witness key asks for it again."), "error");
    return;
  }
  button.disabled = true;
  say(t("Making a witness key in this browser…"), "info");
  let fingerprint = null;
  try {
    let keyPair;
    try {
      keyPair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    } catch (error) {
      say(t("This browser cannot make Ed25519 keys. Use a current browser, or Accord's command-line witness."), "error");
      return;
    }
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keyPair.publicKey));
    fingerprint = await fingerprintOf(raw);
    await putWitnessKey({ fingerprint, keyPair, name: null, createdAt: new Date().toISOString() });
    const result = await postJSON(form.dataset.enrolUrl, { public_key: bytesToBase64(raw), password });
    passwordField.value = "";
    if (!result.ok) {
      if (result.status >= 400 && result.status < 500) {
        await deleteWitnessKey(fingerprint);
        say(t("%(reason)s The key was not kept.", { reason: errorMessage(result) }), "error");
      } else {
        say(t("%(reason)s Reload this page to see whether the key was enrolled.", { reason: errorMessage(result) }), "error");
      }
      return;
    }
    if (result.data.fingerprint !== fingerprint) {
      await deleteWitnessKey(fingerprint);
      say(t("Accord reports the fingerprint %(fingerprint)s, but this browser computed %(fingerprint2)s. The key was not kept; revoke the enrolled witness key above.", { fingerprint: result.data.fingerprint, fingerprint2: fingerprint }), "error");
      return;
    }
    await putWitnessKey({ fingerprint, keyPair, name: result.data.name, createdAt: new Date().toISOString() });
    say(t("Enrolled as %(name)s.", { name: result.data.name }), "success");
    window.location.assign(form.dataset.keysUrl);
  } catch (error) {
    if (fingerprint) {
      try { await deleteWitnessKey(fingerprint); } catch (ignored) { /* nothing more to undo */ }
    }
    say(t("The witness key could not be made or stored: %(error)s", { error: error && error.message ? error.message : error }), "error");
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
