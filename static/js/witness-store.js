// What a city's witness keeps in this browser (IndexedDB "accord-witness"): its keys and its state.
//
// "keys": {fingerprint, keyPair, name, createdAt}; the key pair is a non-extractable Ed25519 CryptoKeyPair
// (the private half can sign, no script can read it). "state": {name, value} records: "log-key" (the log's
// note verifier key, pinned on first use), "checkpoint" (the last signed checkpoint this browser cosigned)
// and "evidence:<time>" (two checkpoints that could not be proven consistent, kept for good).
"use strict";

const DB_NAME = "accord-witness";
const DB_VERSION = 1;
const KEYS = "keys";
const STATE = "state";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase() {
  if (!("indexedDB" in window)) {
    return Promise.reject(new Error("This browser offers no storage for keys (IndexedDB)."));
  }
  const req = indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    const names = req.result.objectStoreNames;
    if (!names.contains(KEYS)) req.result.createObjectStore(KEYS, { keyPath: "fingerprint" });
    if (!names.contains(STATE)) req.result.createObjectStore(STATE, { keyPath: "name" });
  };
  return request(req);
}

async function withStore(storeName, mode, work) {
  const db = await openDatabase();
  try {
    const tx = db.transaction(storeName, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error || new Error("The witness storage transaction was aborted."));
      tx.onerror = () => reject(tx.error);
    });
    const [result] = await Promise.all([request(work(tx.objectStore(storeName))), done]);
    return result;
  } finally {
    db.close();
  }
}

export const putWitnessKey = (record) => withStore(KEYS, "readwrite", (store) => store.put(record));
export const getWitnessKey = (fingerprint) => withStore(KEYS, "readonly", (store) => store.get(fingerprint));
export const allWitnessKeys = () => withStore(KEYS, "readonly", (store) => store.getAll());
export const deleteWitnessKey = (fingerprint) => withStore(KEYS, "readwrite", (store) => store.delete(fingerprint));

export async function getState(name) {
  const record = await withStore(STATE, "readonly", (store) => store.get(name));
  return record ? record.value : undefined;
}

export const putState = (name, value) => withStore(STATE, "readwrite", (store) => store.put({ name, value }));
