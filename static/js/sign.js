// /declarations/<slug>/sign: sign (or withdraw) one exact revision with a key held in this browser.
//
// 1. Hash every language version shown (pre.version-text; #canonical-text is the authoritative one) and
//    compare each with the revision's SHA-256 for it (data-expected-versions).
// 2. Ask the server for the payload: the exact bytes to sign (RFC 8785 JSON, base64).
// 3. Decode and show its fields; check it has exactly the fields, types and statement sentence of
//    its format in the server's table (data-statement-format, from signing/core/statements.py) and
//    that they name this declaration, revision, signer, key and the SHA-256 this browser computed
//    (accord.signature/2: every language version, each with the SHA-256 this browser computed for it).
//    Any difference: refuse, and send nothing more.
// 4. After the delegate confirms, hash every version again, sign the payload bytes with the
//    non-extractable private key and send {payload, signature}.
"use strict";

import { t } from "./i18n.js";
import {
  allKeys,
  base64ToBytes,
  bytesToBase64,
  cryptoAvailable,
  errorMessage,
  getKey,
  postJSON,
  sha256Hex,
  utf8,
} from "./keystore.js";

const section = document.getElementById("signing");
const select = document.getElementById("key-select");
const chosen = document.getElementById("chosen-fingerprint");
const keyMissing = document.getElementById("key-missing");
const prepareButton = document.getElementById("prepare-button");
const payloadView = document.getElementById("payload-view");
const fieldList = document.getElementById("payload-fields");
const hashCheck = document.getElementById("hash-check");
const confirmStep = document.getElementById("confirm-step");
const checkbox = document.getElementById("confirm-checkbox");
const signButton = document.getElementById("sign-button");
const errorBox = document.getElementById("signing-error");
const statusBox = document.getElementById("signing-status");
const statusText = document.getElementById("signing-status-text");
const receiptLink = document.getElementById("receipt-link");

const withdrawing = section && section.dataset.mode === "withdraw";
// The statement format this page signs, from the server's table (signing/core/statements.py):
// {name, noun, verb, signed_by, sentence, fields: [{name, type, label, items?}]}, type "string" | "integer" |
// "boolean" | "array"; an array's items: {type} or {type: "object", fields: [{name, type, label}]}.
const STATEMENT = section ? JSON.parse(section.dataset.statementFormat || "null") : null;

let prepared = null; // {payload (base64), bytes, fields, fingerprint}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function clearError() {
  errorBox.textContent = "";
  errorBox.hidden = true;
}

function resetPrepared() {
  prepared = null;
  payloadView.hidden = true;
  confirmStep.hidden = true;
  checkbox.checked = false;
  signButton.disabled = true;
  fieldList.replaceChildren();
  hashCheck.textContent = "";
  hashCheck.className = "hash-check";
}

/** Refuse to go on: the reason is shown, the confirm step is hidden and nothing is kept to sign. */
function refuse(message) {
  prepared = null;
  confirmStep.hidden = true;
  checkbox.checked = false;
  signButton.disabled = true;
  hashCheck.className = "hash-check error";
  showError(message);
}

async function displayedTextSha256() {
  const pre = document.getElementById("canonical-text");
  return sha256Hex(utf8(pre ? pre.textContent : ""));
}

/** Every language version shown on this page, hashed here: [{tag, sha256}] in the page's order. */
async function displayedVersions() {
  const found = [];
  for (const pre of document.querySelectorAll("pre.version-text")) {
    found.push({ tag: pre.dataset.tag, sha256: await sha256Hex(utf8(pre.textContent)) });
  }
  return found;
}

/** The revision's versions as the server rendered the page: [{tag, sha256, authoritative}]. */
function expectedVersions() {
  return JSON.parse(section.dataset.expectedVersions || "[]");
}

/** null when every version shown hashes to what the page expects; else the refusal to show. */
function versionMismatch(shown) {
  const expected = expectedVersions();
  for (const version of expected) {
    const here = shown.find((item) => item.tag === version.tag);
    if (!here || here.sha256 !== version.sha256) {
      return textMismatch(here ? here.sha256 : "(no text)", version.sha256)
        + ` (language version ${version.tag})`;
    }
  }
  if (shown.length !== expected.length) {
    return textMismatch(`${shown.length} versions`, `${expected.length} versions`);
  }
  return null;
}

/** The payload's versions are exactly the ones shown here: same tags, order, hashes and authoritative one. */
function versionsAgree(named, shown) {
  const expected = expectedVersions();
  if (!Array.isArray(named) || named.length !== shown.length || named.length !== expected.length) return false;
  return named.every((item, index) => item && item.tag === expected[index].tag
    && item.sha256 === expected[index].sha256 && item.authoritative === expected[index].authoritative
    && shown.some((here) => here.tag === item.tag && here.sha256 === item.sha256));
}

function textMismatch(local, expected) {
  return t("Refused: the text shown on this page does not match revision %(revision)s. Its SHA-256 is %(local)s, but the revision's is %(expected)s. Nothing was signed or sent. Reload the page and compare the text before signing.", { revision: section.dataset.revision, local, expected });
}

function selectedFingerprint() {
  return select.value;
}

function showChosen() {
  chosen.textContent = selectedFingerprint() || "";
}

async function loadKeys() {
  const serverKeys = JSON.parse(section.dataset.keys || "[]");
  let stored = [];
  try {
    stored = await allKeys();
  } catch (error) {
    showError(t("This browser's key storage cannot be opened: %(error)s", { error: error && error.message ? error.message : error }));
  }
  const here = new Set(stored.map((record) => record.fingerprint));
  const usable = serverKeys.filter((key) => here.has(key.fingerprint));
  select.replaceChildren();
  if (usable.length === 0) {
    const option = document.createElement("option");
    option.value = "";
    option.textContent = t("No usable key in this browser");
    select.append(option);
    select.disabled = true;
    keyMissing.hidden = false;
    prepareButton.disabled = true;
    showChosen();
    return;
  }
  for (const key of usable) {
    const option = document.createElement("option");
    option.value = key.fingerprint;
    option.textContent = `${key.label} (${key.fingerprint.slice(0, 19)}…)`;
    select.append(option);
  }
  select.disabled = false;
  keyMissing.hidden = true;
  prepareButton.disabled = false;
  showChosen();
}

function showFields(fields) {
  fieldList.replaceChildren();
  for (const { name, label } of STATEMENT.fields) {
    if (!Object.hasOwn(fields, name)) continue;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.dataset.field = name;
    const value = name === "versions" && Array.isArray(fields[name])
      ? fields[name].map((item) => `${item && item.tag}${item && item.authoritative ? " (authoritative)" : ""}: `
        + `${item && item.sha256}`).join("\n")
      : String(fields[name]);
    if (name.endsWith("sha256") || name === "key_fingerprint" || name === "versions") {
      const code = document.createElement("code");
      code.className = "sha256";
      code.textContent = value;
      dd.append(code);
    } else {
      dd.textContent = value;
    }
    fieldList.append(dt, dd);
  }
}

const TYPE_WORDS = { integer: "an integer", string: "a string", boolean: "a boolean", array: "an array" };

function hasType(type, value) {
  if (type === "integer") return Number.isSafeInteger(value);
  if (type === "boolean") return typeof value === "boolean";
  if (type === "array") return Array.isArray(value);
  return typeof value === "string";
}

/** How one value departs from its field in the table (arrays: each item, objects: exactly their members). */
function valueProblems(field, value, where) {
  if (!hasType(field.type, value)) return [`its field ${where} is not ${TYPE_WORDS[field.type] || field.type}`];
  if (field.type !== "array") return [];
  const problems = [];
  const items = field.items || { type: "string" };
  value.forEach((item, index) => {
    if (items.type !== "object") {
      if (!hasType(items.type, item)) problems.push(`its field ${where}[${index}] is not ${TYPE_WORDS[items.type]}`);
      return;
    }
    const members = items.fields.map((member) => member.name);
    if (item === null || typeof item !== "object" || Array.isArray(item)
        || Object.keys(item).length !== members.length || !members.every((name) => Object.hasOwn(item, name))) {
      problems.push(`its field ${where}[${index}] is not an object of ${members.join(", ")}`);
      return;
    }
    for (const member of items.fields) {
      problems.push(...valueProblems(member, item[member.name], `${where}[${index}].${member.name}`));
    }
  });
  return problems;
}

/** How the payload departs from its format in the table: missing or extra fields, wrong types, another statement. */
function formProblems(fields) {
  const problems = [];
  const names = new Set(STATEMENT.fields.map((field) => field.name));
  const missing = [...names].filter((name) => !Object.hasOwn(fields, name));
  const extra = Object.keys(fields).filter((name) => !names.has(name));
  if (missing.length) problems.push(`it lacks the field(s) ${missing.join(", ")}`);
  if (extra.length) problems.push(`it has field(s) ${STATEMENT.name} does not have: ${extra.join(", ")}`);
  for (const field of STATEMENT.fields) {
    if (!Object.hasOwn(fields, field.name)) continue;
    problems.push(...valueProblems(field, fields[field.name], field.name));
  }
  const sentence = STATEMENT.sentence.replace(/\{(\w+)\}/g, (_, name) => String(fields[name]));
  if (fields.statement !== sentence) problems.push("its statement is not the sentence its fields make");
  return problems;
}

function problemsWith(fields, fingerprint, localSha256, shown) {
  const data = section.dataset;
  const problems = [];
  const expect = (ok, what) => { if (!ok) problems.push(what); };
  expect(fields.format === STATEMENT.name, `the format is ${fields.format}, not ${STATEMENT.name}`);
  if (fields.format === STATEMENT.name) problems.push(...formProblems(fields));
  expect(fields.declaration_slug === data.slug, "it names another declaration");
  expect(fields.revision === Number(data.revision), `it names revision ${fields.revision}, not ${data.revision}`);
  expect(fields.text_sha256 === data.expectedSha256, "it names another text SHA-256 than this page");
  expect(fields.text_sha256 === localSha256, "it names another text SHA-256 than the text shown here");
  expect(fields.key_fingerprint === fingerprint, "it names another key");
  expect(fields.signer_id === Number(data.signerId), "it names another signer");
  expect(fields.city_slug === data.citySlug, "it names another city");
  if (data.requireMandates === "true" && !withdrawing) {
    // The declaration requires mayors' mandates: the statement must name one (its SHA-256).
    expect(/^[0-9a-f]{64}$/.test(String(fields.mandate_sha256)), "it names no mayor's mandate");
  }
  if (STATEMENT.fields.some((field) => field.name === "versions")) {
    expect(versionsAgree(fields.versions, shown), "it names other language versions than the texts shown here");
    const main = expectedVersions().find((version) => version.authoritative);
    expect(main && fields.authoritative_language === main.tag, "it names another authoritative language");
  }
  return problems;
}

async function prepare() {
  clearError();
  resetPrepared();
  prepareButton.disabled = true;
  try {
    const fingerprint = selectedFingerprint();
    if (!fingerprint) {
      showError(t("Choose a key first."));
      return;
    }
    const expected = section.dataset.expectedSha256;
    const local = await displayedTextSha256();
    if (local !== expected) {
      refuse(textMismatch(local, expected));
      return;
    }
    const shown = await displayedVersions();
    const differs = versionMismatch(shown);
    if (differs) {
      refuse(differs);
      return;
    }
    const result = await postJSON(section.dataset.payloadUrl, { key_fingerprint: fingerprint });
    if (!result.ok) {
      const code = result.data && result.data.error ? result.data.error.code : "";
      showError(result.status === 409 && code === "conflict" ? section.dataset.closedMessage : errorMessage(result));
      return;
    }
    const bytes = base64ToBytes(result.data.payload);
    let fields;
    try {
      fields = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (error) {
      refuse(t("Refused: the statement Accord sent is not valid UTF-8 JSON. Nothing was signed."));
      return;
    }
    if (fields === null || typeof fields !== "object" || Array.isArray(fields)) {
      refuse(t("Refused: the statement Accord sent is not a JSON object. Nothing was signed."));
      return;
    }
    payloadView.hidden = false;
    showFields(fields);
    const problems = problemsWith(fields, fingerprint, local, shown);
    if (problems.length) {
      refuse(t("Refused: the statement Accord sent does not match this page (%(problems)s). Nothing was signed.", { problems: problems.join("; ") }));
      hashCheck.textContent = t("✗ The statement does not match what this page shows.");
      return;
    }
    hashCheck.className = "hash-check ok";
    // The SHA-256 itself is in the statement's fields (a disclosure) and in the page's details: not repeated here.
    hashCheck.textContent = t("✓ The statement names the SHA-256 this browser computed for the text above.")
      + (Array.isArray(fields.versions) && fields.versions.length > 1
        ? " " + t("It names every language version, each hashed by this browser:") + " "
          + fields.versions.map((v) => v.tag).join(", ") + "." : "");
    prepared = { payload: result.data.payload, bytes, fields, fingerprint };
    confirmStep.hidden = false;
    checkbox.focus();
  } catch (error) {
    showError(t("Preparing failed: %(error)s", { error: error && error.message ? error.message : error }));
  } finally {
    prepareButton.disabled = false;
  }
}

/** A time from the server (ISO 8601, UTC) in the reader's time zone, as every page shows times (app.js). */
function localTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    dateStyle: "medium", timeStyle: "short",
  }).format(date);
}

/** Where signing stands now, from the declaration page (its #signing-progress section), into the completion. */
async function showProgressAfter() {
  const target = document.getElementById("progress-after");
  if (!target || !section.dataset.declarationUrl) return;
  try {
    const response = await fetch(section.dataset.declarationUrl, { credentials: "same-origin", redirect: "error" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const progress = doc.getElementById("signing-progress");
    if (!progress) return;
    progress.id = "signing-progress-after";
    for (const node of progress.querySelectorAll("[id]")) node.id = `${node.id}-after`;
    for (const node of progress.querySelectorAll("[aria-labelledby]")) {
      node.setAttribute("aria-labelledby", `${node.getAttribute("aria-labelledby")}-after`);
    }
    progress.setAttribute("aria-labelledby", "progress-heading-after");
    const heading = progress.querySelector("h2");
    if (heading) {
      const h4 = document.createElement("h4");
      h4.id = heading.id;
      h4.textContent = heading.textContent;
      heading.replaceWith(h4);
    }
    target.replaceChildren(document.importNode(progress, true));
    target.dispatchEvent(new CustomEvent("accord:content", { bubbles: true }));  // times shown locally (app.js)
  } catch (error) {
    // The progress is a courtesy: the signature itself is done and shown.
  }
}

/** The answer to the submission is the API's receipt body (signing/api/schemas.py). */
function finished(data) {
  resetPrepared();
  // The completion state: the steps before it are gone, the tab says so, focus moves to the result.
  prepareButton.hidden = true;
  select.disabled = true;
  for (const step of section.querySelectorAll(":scope > :not(#signing-status):not(#signing-error)")) {
    step.hidden = true;
  }
  const facts = document.querySelector(".signing-facts");
  if (facts) facts.hidden = true;
  const jump = document.querySelector(".jump-to-sign");
  if (jump) jump.hidden = true;
  if (section.dataset.doneTitle) document.title = section.dataset.doneTitle;
  if (withdrawing) {
    statusText.textContent = t("Withdrawn. The signature of %(city)s on revision %(revision)s is withdrawn (%(when)s). The receipt now shows it as withdrawn.",
      { city: data.city_name, revision: data.revision, when: localTime(data.withdrawn_at) });
    const standing = document.getElementById("standing-signature");
    if (standing) standing.hidden = true;
  } else {
    statusText.textContent = t("Signed. Revision %(revision)s is signed for %(city)s at %(when)s with the key %(fingerprint)s.",
      { revision: data.revision, city: data.city_name, when: localTime(data.signed_at), fingerprint: data.key_fingerprint });
  }
  receiptLink.href = section.dataset.receiptUrl.replace("{id}", String(data.signature_id));
  statusBox.hidden = false;
  const heading = document.getElementById("signing-done-heading");
  if (heading) heading.focus();
  showProgressAfter();
}

/** A refusal: "try again" only when trying again can work (not when signing has closed or the city signed). */
function refusalMessage(result) {
  const code = result.data && result.data.error ? result.data.error.code : "";
  if (result.status === 409 && code !== "payload_used" && code !== "payload_expired") {
    return code === "already_signed" ? errorMessage(result) : section.dataset.closedMessage || errorMessage(result);
  }
  return t("%(reason)s Prepare the statement again to retry.", { reason: errorMessage(result) });
}

async function sign() {
  if (!prepared || !checkbox.checked) return;
  clearError();
  signButton.disabled = true;
  prepareButton.disabled = true;
  const current = prepared;
  try {
    // The text may have changed on the page since the statement was prepared: check it again.
    const local = await displayedTextSha256();
    if (local !== current.fields.text_sha256 || local !== section.dataset.expectedSha256) {
      refuse(textMismatch(local, section.dataset.expectedSha256));
      return;
    }
    const shown = await displayedVersions();
    const differs = versionMismatch(shown)
      || (Array.isArray(current.fields.versions) && !versionsAgree(current.fields.versions, shown)
        ? textMismatch("(another set of versions)", "the statement's") : null);
    if (differs) {
      refuse(differs);
      return;
    }
    const record = await getKey(current.fingerprint);
    if (!record || !record.keyPair || !record.keyPair.privateKey) {
      refuse(t("The chosen key is no longer in this browser. Nothing was signed."));
      return;
    }
    const signature = new Uint8Array(
      await crypto.subtle.sign({ name: "Ed25519" }, record.keyPair.privateKey, current.bytes),
    );
    const result = await postJSON(section.dataset.submitUrl, {
      payload: current.payload,
      signature: bytesToBase64(signature),
    });
    if (!result.ok) {
      resetPrepared();
      showError(refusalMessage(result));
      return;
    }
    finished(result.data);
  } catch (error) {
    refuse(t("Signing failed in this browser: %(error)s", { error: error && error.message ? error.message : error }));
  } finally {
    prepareButton.disabled = false;
    if (prepared && checkbox.checked) signButton.disabled = false;
  }
}

if (section) {
  if (!cryptoAvailable()) {
    showError(t("This page must be opened over HTTPS (a secure context) to sign."));
  } else {
    prepareButton.addEventListener("click", prepare);
    signButton.addEventListener("click", sign);
    checkbox.addEventListener("change", () => {
      signButton.disabled = !(prepared && checkbox.checked);
    });
    select.addEventListener("change", () => {
      showChosen();
      resetPrepared();
      clearError();
    });
    loadKeys().then(() => {
      section.dataset.ready = "true";
    });
  }
}
