// /d/<slug>/endorse/sign and /d/<slug>/endorsements/e/<sha256>/withdraw: endorse a frozen declaration (or withdraw
// the endorsement) with a key made and kept in this browser.
//
// The page gives the public facts (data-facts: issuer, declaration, the frozen bundle's manifest SHA-256, the
// endorser's random id, kind and country) and the statement format from the server's table (data-statement-format,
// signing/core/statements.py). This script adds the key fingerprint and the time, builds the RFC 8785 bytes
// itself, checks them against the format (exactly its fields, all strings, its sentence), shows them, signs them
// with the non-extractable key (IndexedDB, keystore.js) and posts {payload, signature, public_key} in one request.
"use strict";

import { t } from "./i18n.js";
import { allKeys, bytesToBase64, cryptoAvailable, errorMessage, fingerprintOf, postJSON, putKey, utf8 } from "./keystore.js";

const section = document.getElementById("endorsing");
const button = document.getElementById("endorse-button");
const errorBox = document.getElementById("endorse-error");
const statusBox = document.getElementById("endorse-status");
const fieldList = document.getElementById("statement-fields");

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function showStatus(message, link) {
  statusBox.replaceChildren(document.createTextNode(message + " "));
  if (link) {
    const anchor = document.createElement("a");
    anchor.href = link.href;
    anchor.textContent = link.text;
    anchor.id = link.id;
    statusBox.append(anchor);
  }
  statusBox.hidden = false;
}

/** RFC 8785 for an object of strings: keys sorted by UTF-16 code units, ECMAScript string serialisation. */
export function canonical(fields) {
  const keys = Object.keys(fields).sort();
  return "{" + keys.map((key) => JSON.stringify(key) + ":" + JSON.stringify(fields[key])).join(",") + "}";
}

function nowSeconds() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Exactly the format's fields, each a string, and its own sentence; a message if not. */
function check(format, fields) {
  const names = format.fields.map((field) => field.name).sort();
  const given = Object.keys(fields).sort();
  if (names.join(",") !== given.join(",")) return t("The statement's fields differ from its format.");
  for (const field of format.fields) {
    if (field.type !== "string" || typeof fields[field.name] !== "string") return t("The field %(name)s is not a string.", { name: field.name });
  }
  const sentence = format.sentence.replace(/\{(\w+)\}/g, (_, name) => fields[name]);
  if (sentence !== fields.statement) return t("The statement is not the sentence of its fields.");
  return null;
}

function show(format, fields) {
  fieldList.replaceChildren();
  for (const field of format.fields) {
    const term = document.createElement("dt");
    term.textContent = field.label;
    const value = document.createElement("dd");
    value.textContent = fields[field.name];
    fieldList.append(term, value);
  }
  fieldList.hidden = false;
}

async function keyFor(endorserId, mayMake) {
  const held = (await allKeys()).filter((record) => record.endorser === endorserId);
  if (held.length > 0) return held[held.length - 1];
  if (!mayMake) return null;
  const keyPair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keyPair.publicKey));
  const record = { fingerprint: await fingerprintOf(raw), keyPair, label: `Endorsement ${endorserId}`,
                   endorser: endorserId, createdAt: new Date().toISOString() };
  await putKey(record);
  return record;
}

async function run() {
  errorBox.hidden = true;
  const facts = JSON.parse(section.dataset.facts);
  const format = JSON.parse(section.dataset.statementFormat);
  const withdrawing = section.dataset.mode === "withdraw";
  let record;
  try {
    record = await keyFor(facts.endorser_id, !withdrawing);
  } catch (error) {
    showError(t("This browser cannot make or keep Ed25519 keys. Use a current browser."));
    return;
  }
  if (!record) {
    showError(t("This browser holds no key of this endorser. Use the browser you endorsed with."));
    return;
  }
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", record.keyPair.publicKey));
  const fields = { ...facts, format: format.name, key_fingerprint: await fingerprintOf(raw) };
  const countryInput = document.getElementById("endorser-country");
  if (countryInput && !withdrawing) fields.country = countryInput.value;  // a person says where they are from
  if (withdrawing) {
    fields.withdraws_payload_sha256 = section.dataset.withdraws;
    fields.withdrawn_at = nowSeconds();
  } else {
    fields.endorsed_at = nowSeconds();
  }
  fields.statement = format.sentence.replace(/\{(\w+)\}/g, (_, name) => fields[name]);
  const problem = check(format, fields);
  if (problem) {
    showError(problem);
    return;
  }
  show(format, fields);
  const bytes = utf8(canonical(fields));
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, record.keyPair.privateKey, bytes));
  const body = { payload: bytesToBase64(bytes), signature: bytesToBase64(signature), public_key: bytesToBase64(raw) };
  const nameInput = document.getElementById("endorser-name");
  if (nameInput && !withdrawing) {
    body.name = nameInput.value;
    body.show_name = document.getElementById("show-name").checked;
    if (countryInput) body.country = countryInput.value;
  }
  button.disabled = true;
  const result = await postJSON(section.dataset.submitUrl, body);
  if (!result.ok) {
    button.disabled = false;
    showError(errorMessage(result));
    return;
  }
  if (withdrawing) {
    showStatus(t("Your endorsement is withdrawn. Endorsements now: %(total)s.", { total: result.data.total }));
  } else {
    showStatus(t("Your endorsement is recorded. Endorsements now: %(total)s.", { total: result.data.total }),
      { href: result.data.view_url, text: t("See your signed endorsement"), id: "endorsement-link" });
  }
  button.hidden = true;
}

if (section && button) {
  if (!cryptoAvailable()) {
    showError(t("This page needs a secure connection (HTTPS) and a browser with WebCrypto Ed25519."));
    button.disabled = true;
  } else {
    button.addEventListener("click", () => {
      run().catch((error) => showError(t("Endorsing failed: %(error)s", { error: error.message || error })));
    });
  }
}
