// Cosigning Accord's transparency log from this browser, on every page a delegate opens (when this browser
// holds one of their enrolled witness keys, listed in <meta name="accord-witness-keys">).
//
// 1. The log key (/log/key) is pinned in IndexedDB on first use; a different key later is refused.
// 2. The latest checkpoint (/log/checkpoint) must carry the log's valid signature.
// 3. It must extend the last checkpoint this browser cosigned: an RFC 9162 consistency proof
//    (/api/v1/log/proof/consistency), checked here.
// 4. Only then: a C2SP cosignature/v1 (with its timestamp) is uploaded (/api/v1/log/cosignatures), and the
//    checkpoint becomes the one to extend next time.
// A failed check of step 3 is a split view: a banner says so, both checkpoints are kept in IndexedDB as
// evidence, and they are reported to the secretariat (/api/v1/log/fork-reports). The outcome is also left in
// <html data-witness="..."> for anyone (and the tests) to read.
"use strict";

import { t } from "./i18n.js";
import { getState, getWitnessKey, putState } from "./witness-store.js";
import { LogError, cosign, hashesFrom, openCheckpoint, parseVerifierKey, verifyConsistency } from "./tlog-verify.js";

const TEXT = { cache: "no-store", credentials: "omit", redirect: "error" };

class ForkDetected extends Error {}

function report(status) {
  document.documentElement.dataset.witness = status;
}

async function fetchText(path) {
  const response = await fetch(path, TEXT);
  if (!response.ok) throw new Error(`${path} answered HTTP ${response.status}`);
  return response.text();
}

async function postPublicJSON(path, body) {
  const response = await fetch(path, {
    method: "POST", credentials: "omit", redirect: "error",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  return { ok: response.ok, status: response.status, data };
}

function banner(message) {
  let box = document.getElementById("witness-alarm");
  if (!box) {
    box = document.createElement("div");
    box.id = "witness-alarm";
    box.className = "flash flash-error witness-alarm";
    box.setAttribute("role", "alert");
    const main = document.querySelector("main") || document.body;
    main.prepend(box);
  }
  box.textContent = message;
}

async function myKey() {
  const meta = document.querySelector('meta[name="accord-witness-keys"]');
  if (!meta || !window.crypto || !window.crypto.subtle) return null;
  for (const fingerprint of meta.content.split(/\s+/).filter(Boolean)) {
    const record = await getWitnessKey(fingerprint);
    if (record && record.name) return record;
  }
  return null;
}

async function pinnedLogKey() {
  const served = await parseVerifierKey(await fetchText("/log/key"));
  const pinned = await getState("log-key");
  if (pinned === undefined) {
    await putState("log-key", served.encoded);
    return served;
  }
  if (pinned !== served.encoded) {
    throw new ForkDetected(`the log's key changed from ${pinned} to ${served.encoded}`);
  }
  return served;
}

/** Why `next` does not extend `kept` (both verified), or null if a consistency proof shows it does. */
async function inconsistency(kept, next) {
  if (next.size < kept.size) return `the log went back from ${kept.size} to ${next.size} entries`;
  if (next.size === kept.size || kept.size === 0n) {
    try {
      await verifyConsistency(kept.size, next.size, kept.root, next.root, []);
      return null;
    } catch (error) {
      return `two different roots for the tree of ${next.size} entries`;
    }
  }
  const response = await fetch(`/api/v1/log/proof/consistency?old=${kept.size}&size=${next.size}`, TEXT);
  if (!response.ok) throw new Error(`the consistency proof was refused (HTTP ${response.status})`);
  const body = await response.json();
  try {
    await verifyConsistency(kept.size, next.size, kept.root, next.root, hashesFrom(body.hashes));
    return null;
  } catch (error) {
    if (!(error instanceof LogError)) throw error;
    return `the consistency proof from ${kept.size} to ${next.size} entries fails: ${error.message}`;
  }
}

async function keepAndReport(key, keptNote, newNote, reason) {
  const detectedAt = new Date().toISOString();
  await putState(`evidence:${detectedAt}`, { oldCheckpoint: keptNote, newCheckpoint: newNote, reason, detectedAt });
  const sent = await postPublicJSON("/api/v1/log/fork-reports", {
    old_checkpoint: keptNote, new_checkpoint: newNote, reason, witness: key.name,
  });
  const told = sent.ok ? t("It was reported to the secretariat.")
    : t("Reporting it to the secretariat failed: tell them yourself.");
  banner(t("Warning: Accord's transparency log showed this browser a history that contradicts the one it cosigned before (%(reason)s). Someone may be showing your city a different record than other cities. This browser did not cosign it and keeps both checkpoints as evidence. %(told)s", { reason, told }));
  report(`fork: ${reason}`);
}

async function witness() {
  const key = await myKey();
  if (!key) return;
  report("checking");
  const logKey = await pinnedLogKey();
  const newNote = await fetchText("/log/checkpoint");
  const next = await openCheckpoint(newNote, logKey);
  const keptNote = await getState("checkpoint");
  if (keptNote !== undefined) {
    const kept = await openCheckpoint(keptNote, logKey);
    const reason = await inconsistency(kept, next);
    if (reason !== null) {
      await keepAndReport(key, keptNote, newNote, reason);
      return;
    }
    if (kept.size === next.size && newNote.includes(`\u2014 ${key.name} `)) {
      report(`cosigned ${next.size}`);
      return;
    }
  }
  const line = await cosign(next.text, key.name, key.keyPair, Math.floor(Date.now() / 1000));
  const sent = await postPublicJSON("/api/v1/log/cosignatures", { size: Number(next.size), cosignature: line });
  if (!sent.ok) {
    const why = sent.data && sent.data.error ? sent.data.error.message : `HTTP ${sent.status}`;
    report(`refused: ${why}`);
    return;
  }
  await putState("checkpoint", newNote);
  report(`cosigned ${next.size}`);
}

witness().catch((error) => {
  if (error instanceof ForkDetected) {
    banner(t("Warning: %(value)s. This browser did not cosign Accord's transparency log; tell the secretariat.", { value: error.message }));
    report(`fork: ${error.message}`);
  } else {
    report(`error: ${error && error.message ? error.message : error}`);
  }
});
