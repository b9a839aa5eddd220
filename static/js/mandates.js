// /mandates: the mayor signs a mandate (or its revocation) with a key held in this browser.
//
// 1. The mayor chooses a delegate, their keys, a scope and an end date, and a key of their own.
// 2. The server issues the exact bytes (RFC 8785 JSON, base64) of accord.mandate/1.
// 3. This script checks the bytes have exactly the fields, types and sentence of the format (from
//    signing/core/statements.py, data-mandate-format) and name what the mayor chose: city, mayor, key,
//    delegate, the delegate's keys, scope and end date. Any difference: refuse, and send nothing more.
// 4. After the mayor confirms, it signs the bytes with the non-extractable key and posts {payload, signature}.
// A revocation goes the same way (accord.mandate-revocation/1 naming the mandate's SHA-256).
"use strict";

import { t } from "./i18n.js";
import { allKeys, base64ToBytes, bytesToBase64, cryptoAvailable, errorMessage, getKey, postJSON } from "./keystore.js";

const section = document.getElementById("mandates");
const form = document.getElementById("mandate-form");
const delegateSelect = document.getElementById("mandate-delegate");
const keyBoxes = document.getElementById("mandate-keys");
const scopeSelect = document.getElementById("mandate-scope");
const untilInput = document.getElementById("mandate-until");
const mayorKey = document.getElementById("mayor-key");
const prepareButton = document.getElementById("mandate-prepare");
const view = document.getElementById("statement-view");
const statementText = document.getElementById("statement-text");
const confirmBox = document.getElementById("statement-confirm");
const signButton = document.getElementById("statement-sign");
const errorBox = document.getElementById("mandate-error");
const statusBox = document.getElementById("mandate-status");

const data = section ? section.dataset : {};
const parse = (name) => JSON.parse(data[name] || "null");
const DELEGATES = section ? parse("delegates") : [];
const TYPES = {
  integer: Number.isSafeInteger,
  string: (value) => typeof value === "string",
  boolean: (value) => typeof value === "boolean",
  array: (value) => Array.isArray(value) && value.every((item) => typeof item === "string"),
};

let prepared = null; // {payload, bytes, fingerprint, submitUrl}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function reset() {
  prepared = null;
  view.hidden = true;
  confirmBox.checked = false;
  signButton.disabled = true;
  errorBox.hidden = true;
}

function showKeys() {
  const delegate = DELEGATES.find((d) => String(d.id) === delegateSelect.value);
  keyBoxes.querySelectorAll("label").forEach((label) => label.remove());
  for (const fingerprint of delegate ? delegate.keys : []) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.value = fingerprint;
    label.append(box, ` ${fingerprint}`);
    keyBoxes.append(label);
  }
}

/** The problems of ``fields`` against a format of the table and the values this page expects. */
function problemsWith(fields, format, expected) {
  const problems = [];
  const names = new Set(format.fields.map((field) => field.name));
  const keys = Object.keys(fields);
  if (fields.format !== format.name) problems.push(t("the format is %(given)s, not %(expected)s", { given: fields.format, expected: format.name }));
  if (keys.length !== names.size || keys.some((name) => !names.has(name))) problems.push(t("it has other fields"));
  for (const { name, type } of format.fields) {
    if (!TYPES[type]?.(fields[name])) problems.push(t("its field %(name)s is not of type %(type)s", { name, type }));
  }
  const sentence = format.sentence.replace(/\{(\w+)\}/g, (_, name) => String(fields[name]));
  if (fields.statement !== sentence) problems.push(t("its statement is not the sentence its fields make"));
  for (const [name, value] of Object.entries(expected)) {
    if (JSON.stringify(fields[name]) !== JSON.stringify(value)) problems.push(t("it names another %(name)s", { name }));
  }
  return problems;
}

async function prepare(url, body, format, expected, submitUrl) {
  reset();
  const fingerprint = mayorKey.value;
  if (!fingerprint) {
    showError(t("Choose one of your keys first."));
    return;
  }
  const result = await postJSON(url, { ...body, key_fingerprint: fingerprint });
  if (!result.ok) {
    showError(errorMessage(result));
    return;
  }
  const bytes = base64ToBytes(result.data.payload);
  let fields = null;
  try {
    fields = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    fields = null;
  }
  if (fields === null || typeof fields !== "object" || Array.isArray(fields)) {
    showError(t("Refused: the statement Accord sent is not a JSON object. Nothing was signed."));
    return;
  }
  const problems = problemsWith(fields, format, {
    ...expected, city_slug: data.citySlug, mayor_id: Number(data.mayorId), mayor_key_fingerprint: fingerprint,
  });
  if (problems.length) {
    showError(t("Refused: the statement Accord sent does not match your choices (%(problems)s). Nothing was signed.", { problems: problems.join("; ") }));
    return;
  }
  statementText.textContent = fields.statement;
  view.hidden = false;
  prepared = { payload: result.data.payload, bytes, fingerprint, submitUrl };
  confirmBox.focus();
}

async function sign() {
  if (!prepared || !confirmBox.checked) return;
  const current = prepared;
  signButton.disabled = true;
  try {
    const record = await getKey(current.fingerprint);
    if (!record || !record.keyPair || !record.keyPair.privateKey) {
      showError(t("The chosen key is no longer in this browser. Nothing was signed."));
      return;
    }
    const signature = new Uint8Array(
      await crypto.subtle.sign({ name: "Ed25519" }, record.keyPair.privateKey, current.bytes),
    );
    const result = await postJSON(current.submitUrl, { payload: current.payload, signature: bytesToBase64(signature) });
    if (!result.ok) {
      reset();
      showError(t("%(error)s Prepare the statement again to retry.", { error: errorMessage(result) }));
      return;
    }
    reset();
    statusBox.textContent = t("Signed. The page now shows it.");
    statusBox.hidden = false;
    window.location.reload();
  } catch (error) {
    showError(t("Signing failed in this browser: %(error)s", { error: error && error.message ? error.message : error }));
  }
}

async function loadKeys() {
  const enrolled = parse("mayorKeys") || [];
  const held = new Set((await allKeys()).map((record) => record.fingerprint));
  const usable = enrolled.filter((key) => held.has(key.fingerprint));
  mayorKey.replaceChildren();
  for (const key of usable) {
    const option = document.createElement("option");
    option.value = key.fingerprint;
    option.textContent = `${key.label} (${key.fingerprint.slice(0, 19)}…)`;
    mayorKey.append(option);
  }
  document.getElementById("key-missing").hidden = usable.length > 0 || enrolled.length === 0;
  mayorKey.disabled = usable.length === 0;
  prepareButton.disabled = usable.length === 0;
  document.querySelectorAll(".revoke-button").forEach((button) => { button.disabled = usable.length === 0; });
}

if (section) {
  if (!cryptoAvailable()) {
    showError(t("This page must be opened over HTTPS (a secure context) to sign."));
  } else {
    showKeys();
    delegateSelect.addEventListener("change", () => { showKeys(); reset(); });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = [...keyBoxes.querySelectorAll("input:checked")].map((box) => box.value).sort();
      if (!untilInput.value) {
        showError(t("Choose the date until which the mandate is valid."));
        return;
      }
      const validUntil = `${untilInput.value}T00:00:00Z`;
      const body = { delegate_id: Number(delegateSelect.value), key_fingerprints: chosen, scope: scopeSelect.value,
        valid_until: validUntil };
      const expected = { delegate_id: body.delegate_id, scope: body.scope, valid_until: validUntil };
      if (chosen.length) expected.delegate_key_fingerprints = chosen;
      prepare(data.payloadUrl, body, parse("mandateFormat"), expected, data.submitUrl).catch(
        (error) => showError(t("Preparing failed: %(error)s", { error: error && error.message ? error.message : error })));
    });
    document.querySelectorAll(".revoke-button").forEach((button) => {
      button.addEventListener("click", () => {
        prepare(data.revokeUrl.replace("{id}", button.dataset.mandateId), {}, parse("revocationFormat"),
          { revokes_mandate_sha256: button.dataset.mandateSha256 }, data.revokeSubmitUrl).catch(
          (error) => showError(t("Preparing failed: %(error)s", { error: error && error.message ? error.message : error })));
      });
    });
    confirmBox.addEventListener("change", () => { signButton.disabled = !(prepared && confirmBox.checked); });
    signButton.addEventListener("click", sign);
    loadKeys().then(() => { section.dataset.ready = "true"; });
  }
}
