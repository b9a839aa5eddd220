// Checking Accord's transparency log in the browser: C2SP signed notes and checkpoints, and RFC 9162
// consistency proofs. The same rules as signing/core/note.py and signing/core/merkle.py.
"use strict";

import { base64ToBytes, bytesToBase64, utf8 } from "./keystore.js";

export const DASH = "\u2014";
export const ED25519 = 0x01;
export const COSIGNATURE_V1 = 0x04;

export class LogError extends Error {}

function unb64(text) {
  let bytes;
  try {
    bytes = base64ToBytes(text);
  } catch (error) {
    throw new LogError("bad base64");
  }
  if (bytesToBase64(bytes) !== text) throw new LogError("non-canonical base64");
  return bytes;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]. */
export async function keyId(name, type, publicKey) {
  return (await sha256(concat(utf8(name), new Uint8Array([0x0a, type]), publicKey))).slice(0, 4);
}

/** Parse `<name>+<hex key ID>+<base64(0x01 ‖ key)>`, checking the key ID. */
export async function parseVerifierKey(vkey) {
  const match = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey.trim());  // the base64 may itself hold "+"
  const parts = match ? match.slice(1) : [];
  if (parts.length !== 3 || !/^[0-9a-f]{8}$/.test(parts[1]) || !/^[^\s+]+$/.test(parts[0])) {
    throw new LogError("malformed log key");
  }
  const material = unb64(parts[2]);
  if (material.length !== 33 || material[0] !== ED25519) throw new LogError("the log key is not an Ed25519 key");
  const publicKey = material.slice(1);
  const id = await keyId(parts[0], ED25519, publicKey);
  if (Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("") !== parts[1]) {
    throw new LogError("the log key's ID does not match the key");
  }
  return { name: parts[0], id, publicKey, encoded: vkey.trim() };
}

/** Split a signed note into its text and signature lines {name, keyId, signature}. */
export function parseNote(message) {
  const split = message.lastIndexOf("\n\n");
  if (split < 0) throw new LogError("malformed note");
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (!block.endsWith("\n") || text.startsWith("\n") || text.includes("\n\n")) throw new LogError("malformed note");
  const signatures = block.slice(0, -1).split("\n").map((line) => {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) throw new LogError("malformed signature line");
    const raw = unb64(match[2]);
    if (raw.length < 5) throw new LogError("malformed signature line");
    return { name: match[1], keyId: raw.slice(0, 4), signature: raw.slice(4) };
  });
  return { text, signatures };
}

/** Verify the log's signature on a signed checkpoint; returns {text, origin, size (BigInt), root}. */
export async function openCheckpoint(message, logKey) {
  const { text, signatures } = parseNote(message);
  const mine = signatures.filter((s) => s.name === logKey.name && equal(s.keyId, logKey.id));
  if (mine.length === 0) throw new LogError("the checkpoint does not carry the log's signature");
  const publicKey = await crypto.subtle.importKey("raw", logKey.publicKey, { name: "Ed25519" }, false, ["verify"]);
  for (const signature of mine) {
    if (signature.signature.length !== 64
        || !(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature.signature, utf8(text)))) {
      throw new LogError("the log's signature on the checkpoint does not verify");
    }
  }
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || !/^(0|[1-9][0-9]{0,19})$/.test(lines[1])) throw new LogError("malformed checkpoint");
  if (lines[0] !== logKey.name) throw new LogError("the checkpoint's origin is not the log key's name");
  const root = unb64(lines[2]);
  if (root.length !== 32) throw new LogError("the checkpoint's root is not 32 bytes");
  return { text, origin: lines[0], size: BigInt(lines[1]), root };
}

async function nodeHash(left, right) {
  return sha256(concat(new Uint8Array([0x01]), left, right));
}

/** RFC 9162 §2.1.4.2: throws unless the tree of `size` leaves extends the tree of `oldSize` leaves. */
export async function verifyConsistency(oldSize, size, oldRoot, newRoot, proof) {
  if ([oldRoot, newRoot, ...proof].some((h) => h.length !== 32)) throw new LogError("a hash is not 32 bytes");
  if (oldSize > size || oldSize < 0n) throw new LogError(`a tree of size ${size} cannot extend one of size ${oldSize}`);
  if (oldSize === size) {
    if (proof.length) throw new LogError("a proof between equal sizes must be empty");
    if (!equal(oldRoot, newRoot)) throw new LogError("two different roots for the same tree size");
    return;
  }
  if (oldSize === 0n) {
    if (proof.length) throw new LogError("a proof from the empty tree must be empty");
    return;
  }
  if (!proof.length) throw new LogError("the consistency proof is empty");
  const path = (oldSize & (oldSize - 1n)) === 0n ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1n;
  let sn = size - 1n;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new LogError("the consistency proof is too long");
    if ((fn & 1n) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new LogError("the consistency proof is too short");
  if (!equal(fr, oldRoot) || !equal(sr, newRoot)) throw new LogError("the consistency proof does not lead to both roots");
}

/** A C2SP cosignature/v1 signature line for the checkpoint `text`, signed now with `keyPair`. */
export async function cosign(text, name, keyPair, timestamp) {
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", keyPair.publicKey));
  const id = await keyId(name, COSIGNATURE_V1, publicKey);
  const message = utf8(`cosignature/v1\ntime ${timestamp}\n${text}`);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, keyPair.privateKey, message));
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(timestamp));
  return `${DASH} ${name} ${bytesToBase64(concat(id, time, signature))}\n`;
}

export function hashesFrom(list) {
  return list.map(unb64);
}
