// Signing keys kept in this browser (IndexedDB), and the small helpers keys.js and sign.js share.
//
// A key is an Ed25519 CryptoKeyPair made with extractable=false: the private key can sign, but
// no script (this one included) can ever read its bytes. IndexedDB stores the CryptoKey objects
// themselves (structured clone), keyed by the fingerprint "sha256:<hex of SHA-256 of the raw
// 32-byte public key>", the same value the server shows.
"use strict";

import { t } from "./i18n.js";
const DB_NAME = "accord-signing";
const DB_VERSION = 1;
const STORE = "keys";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase() {
  if (!("indexedDB" in window)) {
    return Promise.reject(new Error(t("This browser offers no storage for keys (IndexedDB).")));
  }
  const req = indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) {
      req.result.createObjectStore(STORE, { keyPath: "fingerprint" });
    }
  };
  return request(req);
}

async function withStore(mode, work) {
  const db = await openDatabase();
  try {
    const tx = db.transaction(STORE, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error || new Error(t("The key storage transaction was aborted.")));
      tx.onerror = () => reject(tx.error);
    });
    const [result] = await Promise.all([request(work(tx.objectStore(STORE))), done]);
    return result;
  } finally {
    db.close();
  }
}

/** Store {fingerprint, keyPair, label, createdAt}. */
export function putKey(record) {
  return withStore("readwrite", (store) => store.put(record));
}

/** The stored record for a fingerprint, or undefined. */
export function getKey(fingerprint) {
  return withStore("readonly", (store) => store.get(fingerprint));
}

/** Every stored record. */
export function allKeys() {
  return withStore("readonly", (store) => store.getAll());
}

export function deleteKey(fingerprint) {
  return withStore("readwrite", (store) => store.delete(fingerprint));
}

// --- encoding and hashing ---------------------------------------------------------------------

export function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(bytes) {
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

export function utf8(text) {
  return new TextEncoder().encode(text);
}

/** "sha256:" + hex SHA-256 of the raw 32-byte public key, as signing/payload.py computes it. */
export async function fingerprintOf(rawPublicKey) {
  return "sha256:" + (await sha256Hex(rawPublicKey));
}

// --- talking to the server --------------------------------------------------------------------

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) return meta.content;
  // Pages for visitors not logged in (the login pages) carry no meta: their form's token serves.
  const field = document.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

/**
 * POST a JSON body to a same-origin endpoint with the session cookie and the CSRF token.
 * Resolves to {ok, status, data}; data.error.message explains a refusal.
 */
export async function postJSON(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      redirect: "error",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(body),
    });
  } catch (error) {
    return { ok: false, status: 0, data: { error: { code: "network", message: t("Accord could not be reached. Check your connection and try again.") } } };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!data || typeof data !== "object") {
    data = { error: { code: "bad_response", message: t("Accord answered with an unexpected response (HTTP %(status)s).", { status: response.status }) } };
  }
  return { ok: response.ok, status: response.status, data };
}

export function errorMessage(result) {
  const error = result.data && result.data.error;
  return error && error.message ? error.message : t("The request failed (HTTP %(status)s).", { status: result.status });
}

/** True if this browser can make and use Ed25519 keys (a secure context with WebCrypto Ed25519). */
export function cryptoAvailable() {
  return Boolean(window.isSecureContext && window.crypto && window.crypto.subtle);
}
