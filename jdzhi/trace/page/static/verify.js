// The jdzhi verification page: verifies a Jingdezhen Zhi label in the browser, offline from the
// label in the address and the authority-signed trust bundle next to this script.
//
// It implements docs/format.md ("The label", "Trust bundle", "Verdicts") with WebCrypto Ed25519
// and a strict deterministic-CBOR decoder, and applies the same verdict rules, in the same order,
// as jdzhi/trace/verification/verifier.py (`jdzhi verify`): the browser tests hold the two to the
// same verdicts, and tests/test_status_rules.py holds statusAt and keyStatusAt to
// jdzhi/trace/trust/status.py over generated cases (in Node.js: hence the exports, and main()
// only where there is a document).
// Nothing here trusts a server: the bundle is checked against the authority key pinned in the
// page (<meta name="jdzhi-authority">), and every signature is checked here. Nothing here sends
// anything either: report.js, where `jdzhi server` serves the page, reports the verdict this file
// exports (`checked`) once it is shown.
"use strict";

const BUNDLE_FILE = "trust.cbor";
const LABEL_CHARS = 124;
const LABEL_BYTES = 77;
const LABEL_HEADER = 13;
const MAX_SERIAL = 999999999999;
const MAX_DEPTH = 16;
const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
const CONTENT_TYPES = {
  bundle: "application/vnd.jdzhi.bundle+cbor",
  endorsement: "application/vnd.jdzhi.endorsement+cbor",
};
const BASE_PATTERN = /^HTTPS?:\/\/[A-Z0-9.-]+(:[0-9]{1,5})?\/([A-Z0-9.-]+\/)*$/;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** An error that ends verification with a state the page shows (never a guess). */
class Stop extends Error {
  constructor(state, zh, en) {
    super(en);
    this.state = state;
    this.zh = zh;
    this.en = en;
  }
}

// ---------------------------------------------------------------------------------------------
// bytes

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) {
    return false;
  }
  return a.every((value, i) => value === b[i]);
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function base64urlDecode(text) {
  // 43 characters, the last one's 2 spare bits zero: the one canonical text of 32 bytes
  if (!/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/.test(text)) throw new Error("not a 32-byte base64url key");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=");
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** Strict base32 of a label payload: rules 2-3 of docs/format.md, "Strict decoding". */
function base32Label(text) {
  if (text.length !== LABEL_CHARS) {
    throw new Error(`the label payload is ${text.length} characters, not ${LABEL_CHARS}`);
  }
  const bad = [...text].find((c) => !BASE32.includes(c));
  if (bad !== undefined) throw new Error(`${JSON.stringify(bad)} is not an uppercase base32 character`);
  const values = [...text].map((c) => BASE32.indexOf(c));
  if (values[values.length - 1] & 0x0f) throw new Error("the last base32 character has spare bits set");
  const out = new Uint8Array(LABEL_BYTES);
  let buffer = 0;
  let bits = 0;
  let at = 0;
  for (const value of values) {
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (at < LABEL_BYTES) out[at++] = (buffer >> bits) & 0xff;
      buffer &= (1 << bits) - 1;
    }
  }
  return out;
}

/** Rule 4: the 77 bytes are a version-1 label with fields in range. */
function decodeLabel(text) {
  const payload = base32Label(text);
  if (payload[0] !== 1) throw new Error(`label format version ${payload[0]} is not supported`);
  const keyId = (payload[1] << 8) | payload[2];
  let serial = 0;
  for (let i = 3; i < 8; i++) serial = serial * 256 + payload[i];
  const signedAt = ((payload[8] << 24) >>> 0) + (payload[9] << 16) + (payload[10] << 8) + payload[11];
  const category = payload[12];
  if (keyId === 0) throw new Error("key id 0 is outside 1..65535");
  if (serial < 1 || serial > MAX_SERIAL) throw new Error(`serial ${serial} is outside 1..${MAX_SERIAL}`);
  if (category === 0) throw new Error("category code 0 is outside 1..255");
  return {
    keyId, serial, signedAt, category,
    signingInput: concat(utf8.encode("jdzhi/label/1\u0000"), payload.subarray(0, LABEL_HEADER)),
    signature: payload.slice(LABEL_HEADER),
  };
}

// ---------------------------------------------------------------------------------------------
// deterministic CBOR (RFC 8949 §4.2.1), decoding only what jdzhi signs, refusing anything else:
// non-shortest heads, indefinite lengths, floats, unsorted or duplicate map keys, bad UTF-8.

class Tagged {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

function decodeCbor(bytes, what) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const fail = (why) => {
    throw new Error(`${what} is not canonical CBOR: ${why}`);
  };
  const need = (n) => {
    if (at + n > bytes.length) fail("truncated");
  };
  const head = () => {
    need(1);
    const initial = bytes[at++];
    const major = initial >> 5;
    const info = initial & 0x1f;
    let value;
    if (info < 24) value = info;
    else if (info === 24) { need(1); value = bytes[at]; at += 1; if (value < 24) fail("long form"); }
    else if (info === 25) { need(2); value = view.getUint16(at); at += 2; if (value < 0x100) fail("long form"); }
    else if (info === 26) { need(4); value = view.getUint32(at); at += 4; if (value < 0x10000) fail("long form"); }
    else if (info === 27) {
      need(8);
      const big = view.getBigUint64(at);
      at += 8;
      if (big < 0x100000000n) fail("long form");
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) fail("integer too large");
      value = Number(big);
    } else fail(info === 31 ? "indefinite length" : "reserved head");
    return [major, info, value];
  };
  const item = (depth) => {
    if (depth > MAX_DEPTH) fail("nested too deeply");
    const [major, info, value] = head();
    switch (major) {
      case 0: return value;
      case 1: return -1 - value;
      case 2: need(value); at += value; return bytes.slice(at - value, at);
      case 3: {
        need(value);
        at += value;
        try { return utf8Strict.decode(bytes.subarray(at - value, at)); } catch { return fail("invalid UTF-8"); }
      }
      case 4: {
        const list = [];
        for (let i = 0; i < value; i++) list.push(item(depth + 1));
        return list;
      }
      case 5: {
        const map = new Map();
        let previous = null;
        for (let i = 0; i < value; i++) {
          const start = at;
          const key = item(depth + 1);
          const encoded = bytes.subarray(start, at);
          if (typeof key !== "string" && typeof key !== "number") fail("map key not text or integer");
          if (previous !== null && compareBytes(previous, encoded) >= 0) fail("map keys unsorted or repeated");
          previous = encoded;
          map.set(key, item(depth + 1));
        }
        return map;
      }
      case 6: return new Tagged(value, item(depth + 1));
      default:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        return fail("floating-point or simple value");
    }
  };
  const result = item(0);
  if (at !== bytes.length) fail("bytes after the end");
  return result;
}

/** A decoded map field with a type check (the bundle refuses any field of the wrong type). */
function field(map, key, type, optional = false) {
  if (!(map instanceof Map)) throw new Error(`expected a map holding ${key}`);
  if (!map.has(key)) {
    if (optional) return undefined;
    throw new Error(`missing field ${key}`);
  }
  const value = map.get(key);
  const ok = {
    int: Number.isSafeInteger(value),
    uint: Number.isSafeInteger(value) && value >= 0,
    text: typeof value === "string",
    bytes: value instanceof Uint8Array,
    list: Array.isArray(value),
    map: value instanceof Map,
  }[type];
  if (!ok) throw new Error(`field ${key} is not ${type}`);
  return value;
}

function isoDate(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))
    || new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) !== text) {
    throw new Error(`${JSON.stringify(text)} is not a date YYYY-MM-DD`);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// COSE_Sign1 (RFC 9052 §4.2) with EdDSA, as jdzhi uses it

function decodeSign1(bytes, what) {
  const value = decodeCbor(bytes, what);
  if (!(value instanceof Tagged) || value.tag !== 18) throw new Error(`${what} is not a tagged COSE_Sign1`);
  const body = value.value;
  if (!Array.isArray(body) || body.length !== 4) throw new Error(`${what} is not a COSE_Sign1 array`);
  const [protectedBytes, unprotected, payload, signature] = body;
  if (!(protectedBytes instanceof Uint8Array) || !(payload instanceof Uint8Array)) {
    throw new Error(`${what} has a header or payload that is not a byte string`);
  }
  if (!(unprotected instanceof Map) || unprotected.size !== 0) {
    throw new Error(`${what} must have an empty unprotected header`);
  }
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new Error(`${what} does not carry a 64-byte signature`);
  }
  const header = decodeCbor(protectedBytes, `${what}'s protected header`);
  if (!(header instanceof Map) || header.size !== 3 || header.get(1) !== -8
    || typeof header.get(3) !== "string" || !(header.get(4) instanceof Uint8Array)) {
    throw new Error(`${what}'s protected header must be exactly {1: -8, 3: type, 4: kid}`);
  }
  return { protectedBytes, contentType: header.get(3), kid: header.get(4), payload, signature };
}

/** The deterministic CBOR of ["Signature1", protected, external_aad, payload]. */
function sigStructure(message, aad) {
  const headOf = (major, length) => {
    if (length < 24) return Uint8Array.of((major << 5) | length);
    if (length < 0x100) return Uint8Array.of((major << 5) | 24, length);
    if (length < 0x10000) return Uint8Array.of((major << 5) | 25, length >> 8, length & 0xff);
    return Uint8Array.of((major << 5) | 26, length >>> 24, (length >> 16) & 0xff,
      (length >> 8) & 0xff, length & 0xff);
  };
  const bstr = (b) => concat(headOf(2, b.length), b);
  const context = utf8.encode("Signature1");
  return concat(headOf(4, 4), headOf(3, context.length), context, bstr(message.protectedBytes),
    bstr(aad), bstr(message.payload));
}

// ---------------------------------------------------------------------------------------------
// Ed25519: WebCrypto, or where it has none the vendored noble-ed25519 (VENDORED.md); either way
// with libsodium's rules, so that the page refuses what `jdzhi verify` refuses

const CURVE_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n; // L
const FIELD_PRIME = 2n ** 255n - 19n; // p
/** The y coordinates (sign bit aside) of the points of order 1, 2, 4 and 8, with p and p + 1
 * (non-canonical 0 and 1): every small-order encoding, which libsodium refuses as a key or as R
 * (jdzhi/trace/ed25519.py lists the same points as bytes). */
const SMALL_ORDER_Y = [0n, 1n, FIELD_PRIME - 1n, FIELD_PRIME, FIELD_PRIME + 1n,
  0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n,
  0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n];

/** The noble-ed25519 module once checkEd25519Support has found WebCrypto without Ed25519. */
let noble = null;
const cryptoKeys = new Map();
const torsionFreeKeys = new Map();

function littleEndian(bytes) {
  return bytes.reduceRight((number, byte) => (number << 8n) | BigInt(byte), 0n);
}

/** The y coordinate a 32-byte point encoding gives, its sign bit cleared. */
function yOf(point) {
  return littleEndian(point) & ((1n << 255n) - 1n);
}

/** Whether 32 bytes encode a small-order point: docs/format.md says verifiers MUST reject such
 * a public key or R, and WebCrypto implementations need not. */
export function hasSmallOrder(point) {
  return SMALL_ORDER_Y.includes(yOf(point));
}

/** libsodium's other checks before its equation: S < L and a canonical key. WebCrypto leaves
 * some open (Chromium verifies S = 0 with R and the key both the identity). */
function refusedByLibsodium(publicKey, signature) {
  return littleEndian(signature.subarray(32)) >= CURVE_ORDER || yOf(publicKey) >= FIELD_PRIME;
}

export async function ed25519Verify(publicKey, signature, message) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || signature.length !== 64
    || hasSmallOrder(publicKey) || hasSmallOrder(signature.subarray(0, 32))
    || refusedByLibsodium(publicKey, signature)) {
    return false;
  }
  return (noble === null ? webCryptoVerify : nobleVerify)(publicKey, signature, message);
}

async function webCryptoVerify(publicKey, signature, message) {
  const id = Array.from(publicKey).join(",");
  let key = cryptoKeys.get(id);
  if (key === undefined) {
    try {
      key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch {
      key = null; // not a valid Ed25519 public key: nothing verifies under it
    }
    cryptoKeys.set(id, key);
  }
  if (key === null) return false;
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/** noble's strict mode checks [8]R = [8]([S]B - [k]A), libsodium R = [S]B - [k]A: the two agree
 * when neither R nor the key has a small-order component, so anything with one is refused. (Only
 * a key with such a component, which no jdzhi key is, can make libsodium accept what this
 * refuses; nothing makes it refuse what this accepts.) SHA-512 is noble's default,
 * crypto.subtle.digest, which every browser has where it offers WebCrypto at all. */
async function nobleVerify(publicKey, signature, message) {
  const torsionFree = (encoded) => {
    try {
      return noble.Point.fromHex(encoded, false).isTorsionFree();
    } catch {
      return false; // not a canonical point encoding
    }
  };
  if (!await noble.verifyAsync(signature, message, publicKey, { zip215: false })) return false;
  const id = Array.from(publicKey).join(",");
  if (!torsionFreeKeys.has(id)) torsionFreeKeys.set(id, torsionFree(publicKey));
  return torsionFreeKeys.get(id) && torsionFree(signature.subarray(0, 32));
}

/** RFC 8032 §7.1 test 1: the verifier to use (WebCrypto's, else noble-ed25519) must accept the
 * right signature and refuse a changed one. Says which one the page uses. */
async function checkEd25519Support() {
  const hex = (text) => Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
  const publicKey = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const signature = hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  const unsupported = new Stop("unsupported",
    "此浏览器不支持 Ed25519 签名验证，无法判断真伪。请更新浏览器（或换用其他浏览器）后重新扫码。",
    "This browser cannot check Ed25519 signatures (WebCrypto), so it cannot tell whether the "
    + "label is genuine. Update the browser, or use another one, and scan again.");
  if (!globalThis.isSecureContext) {
    throw new Stop("unsupported", "本页面未通过 HTTPS 打开，浏览器不允许在此验证签名。请使用 https:// 地址。",
      "This page was not opened over HTTPS, where browsers refuse to check signatures: use the https:// address.");
  }
  // without crypto.subtle there is no SHA-512 for noble either; a browser that runs this page
  // (ES modules, BigInt) has it in every secure context
  if (!globalThis.crypto || !crypto.subtle) throw unsupported;
  const passes = async (verify) => {
    const changed = signature.slice();
    changed[0] ^= 1;
    try {
      return await verify(publicKey, signature, new Uint8Array(0)) === true
        && await verify(publicKey, changed, new Uint8Array(0)) === false;
    } catch {
      return false;
    }
  };
  if (await passes(webCryptoVerify)) return "webcrypto";
  try {
    noble = await import("./noble-ed25519.js");
  } catch {
    throw unsupported;
  }
  if (await passes(nobleVerify)) return "noble-ed25519";
  throw unsupported;
}

// ---------------------------------------------------------------------------------------------
// the trust bundle (docs/format.md, "Trust bundle")

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function outcomeOf(results, optional, waterLimit) {
  let passed = results.length > 0 && results.every((r) => r.pb <= r.pbl && r.cd <= r.cdl);
  if (optional.get("ts") === 0) passed = false;
  if (waterLimit !== undefined && optional.has("wa") && optional.get("wa") > waterLimit) passed = false;
  return passed ? "pass" : "fail";
}

async function decodeEndorsement(bytes, keys) {
  const message = decodeSign1(bytes, "endorsement");
  const data = decodeCbor(message.payload, "endorsement payload");
  if (message.contentType !== CONTENT_TYPES.endorsement || !(data instanceof Map)) {
    throw new Error("not an endorsement");
  }
  const keyId = field(data, "k", "int");
  const key = keys.get(keyId);
  if (key === undefined || key.role !== "lab" || key.lab !== field(data, "lab", "int")) {
    throw new Error(`endorsement signed by key ${keyId}, not a certified key of its lab`);
  }
  const kid = Uint8Array.of(keyId >> 8, keyId & 0xff);
  if (!equalBytes(message.kid, kid) || !await ed25519Verify(key.pk, message.signature,
    sigStructure(message, utf8.encode("jdzhi/endorsement/1")))) {
    throw new Error("an endorsement's lab signature does not verify");
  }
  const results = field(data, "res", "list").map((r) => ({
    w: field(r, "w", "text"), u: field(r, "u", "text"), pb: field(r, "pb", "int"),
    cd: field(r, "cd", "int"), pbl: field(r, "pbl", "int"), cdl: field(r, "cdl", "int"),
  }));
  const optional = field(data, "opt", "map");
  for (const [name, value] of optional) {
    if (typeof name !== "string" || !Number.isSafeInteger(value)) {
      throw new Error("an endorsement's optional result is malformed");
    }
  }
  const endorsement = {
    lab: key.lab, e: field(data, "e", "int"), b: field(data, "b", "text"),
    ranges: field(data, "ser", "list").map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every(Number.isSafeInteger)) {
        throw new Error("an endorsement's serial range is malformed");
      }
      return pair;
    }),
    out: field(data, "out", "text"), std: field(data, "std", "text"), r: field(data, "r", "text"),
    tt: field(data, "tt", "int"), t: field(data, "t", "int"),
  };
  if (endorsement.out !== outcomeOf(results, optional, field(data, "wal", "int", true))) {
    throw new Error("an endorsement's outcome contradicts its own results");
  }
  if (endorsement.t < key.nb || endorsement.t > key.na || (key.end && endorsement.t >= key.end.at)) {
    throw new Error("an endorsement was signed outside the lab key's validity");
  }
  return endorsement;
}

/** Fetch and check the bundle: signed by the pinned authority key, canonical, well typed. */
async function loadTrust(authority) {
  let bytes;
  try {
    const response = await fetch(new URL(`../${BUNDLE_FILE}`, location.href), { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new Stop("error", "无法下载可信数据（trust.cbor），请检查网络后重试。",
      `The trust data (${BUNDLE_FILE}) could not be fetched (${error.message}); check the connection and retry.`);
  }
  const refuse = (why) => new Stop("error",
    "可信数据未通过认证中心签名校验，已拒绝使用，无法验证此标签。",
    `The trust data is not validly signed by the certification authority (${why}): refused, so the label cannot be checked.`);
  try {
    return await decodeBundle(bytes, authority);
  } catch (error) {
    throw refuse(error.message);
  }
}

/** A bundle's trust, checked as docs/format.md says; an Error saying why it is refused. */
export async function decodeBundle(bytes, authority) {
  if (bytes.length > MAX_BUNDLE_BYTES) throw new Error("too large");
  const message = decodeSign1(bytes, "trust bundle");
  const kid = (await sha256(authority)).slice(0, 8);
  if (message.contentType !== CONTENT_TYPES.bundle || !equalBytes(message.kid, kid)
    || !await ed25519Verify(authority, message.signature,
      sigStructure(message, utf8.encode("jdzhi/bundle/1")))) {
    throw new Error("signature");
  }
  return trustFromPayload(decodeCbor(message.payload, "trust bundle payload"), authority);
}

/** The keys of a bundle's maps (docs/format.md): each listed one required unless optional,
 * nothing else allowed. */
const BUNDLE_KEYS = ["v", "iat", "exp", "apk", "bases", "keys", "ents", "lics", "cats", "labs", "ends"];
const OPTIONAL_BUNDLE_KEYS = ["ckpt", "cprf", "logged", "rcl"];
const KEY_ENTRY_KEYS = {
  licensee: ["k", "pk", "role", "nb", "na", "e", "l"], lab: ["k", "pk", "role", "nb", "na", "lab"],
};

function exactKeys(map, what, required, optional = []) {
  if (!(map instanceof Map)) throw new Error(`${what} is not a map`);
  for (const key of required) if (!map.has(key)) throw new Error(`${what} lacks ${key}`);
  for (const key of map.keys()) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new Error(`${what} carries the unknown key ${JSON.stringify(String(key))}`);
    }
  }
  return map;
}

function inRange(value, what, low, high) {
  if (!Number.isSafeInteger(value) || value < low || value > high) throw new Error(`${what} is out of range`);
  return value;
}

async function trustFromPayload(payload, authority) {
  if (!(payload instanceof Map) || payload.get("v") !== 1) throw new Error("unsupported bundle version");
  exactKeys(payload, "the bundle", BUNDLE_KEYS, OPTIONAL_BUNDLE_KEYS);
  if (!equalBytes(field(payload, "apk", "bytes"), authority)) throw new Error("another authority key");
  const keys = new Map();
  for (const item of field(payload, "keys", "list")) {
    const role = field(item, "role", "text");
    if (role !== "licensee" && role !== "lab") throw new Error("a key has an unknown role");
    exactKeys(item, "a key", KEY_ENTRY_KEYS[role], ["end"]);
    const end = field(item, "end", "map", true);
    if (end !== undefined) exactKeys(end, "a key's end", ["at", "kind", "r"]);
    if (end !== undefined && !["revoked", "superseded"].includes(field(end, "kind", "text"))) {
      throw new Error("a key has an unknown kind of end");
    }
    const key = {
      k: inRange(field(item, "k", "int"), "a key id", 1, 0xffff), pk: field(item, "pk", "bytes"), role,
      nb: field(item, "nb", "uint"), na: field(item, "na", "uint"),
      e: role === "licensee" ? field(item, "e", "uint") : null,
      l: role === "licensee" ? field(item, "l", "uint") : null,
      lab: role === "lab" ? field(item, "lab", "uint") : null,
      end: end === undefined ? null
        : { at: field(end, "at", "uint"), kind: field(end, "kind", "text"), r: field(end, "r", "text") },
    };
    if (key.pk.length !== 32 || hasSmallOrder(key.pk)) throw new Error(`key ${key.k} is not a usable Ed25519 key`);
    if (key.na <= key.nb) throw new Error(`key ${key.k}'s window ends before it starts`);
    keys.set(key.k, key);
  }
  const enterprises = new Map();
  for (const item of field(payload, "ents", "list")) {
    exactKeys(item, "an enterprise", ["id", "name", "short", "uscc"]);
    enterprises.set(field(item, "id", "uint"), {
      name: field(item, "name", "text"), short: field(item, "short", "text"),
      uscc: field(item, "uscc", "text"),
    });
  }
  const licenses = new Map();
  for (const item of field(payload, "lics", "list")) {
    exactKeys(item, "a license", ["id", "e", "no", "from", "cats", "ev"]);
    const license = {
      e: field(item, "e", "uint"), no: field(item, "no", "text"),
      from: isoDate(field(item, "from", "text")),
      cats: new Set(field(item, "cats", "list").map((code) => inRange(code, "a license category", 1, 255))),
      events: field(item, "ev", "list").map((ev) => {
        exactKeys(ev, "a license event", ["s", "at", "r"], ["to"]);
        const to = field(ev, "to", "text", true);
        const s = field(ev, "s", "text");
        if (!["active", "suspended", "revoked"].includes(s)) throw new Error("a license event has an unknown status");
        return { s, at: field(ev, "at", "uint"), r: field(ev, "r", "text"),
          to: to === undefined ? null : isoDate(to) };
      }),
    };
    if (license.events.some((ev, i) => i > 0 && ev.at < license.events[i - 1].at)) {
      throw new Error("a license lists its events out of effective order");
    }
    if (!enterprises.has(license.e)) throw new Error("a license's enterprise is not in the bundle");
    licenses.set(field(item, "id", "uint"), license);
  }
  for (const key of keys.values()) {
    if (key.role === "licensee" && (!licenses.has(key.l) || licenses.get(key.l).e !== key.e)) {
      throw new Error(`key ${key.k}'s license is not in the bundle`);
    }
  }
  const categories = new Map();
  for (const item of field(payload, "cats", "list")) {
    exactKeys(item, "a category", ["c", "code", "zh", "en"]);
    categories.set(inRange(field(item, "c", "int"), "a category code", 1, 255), {
      code: field(item, "code", "text"), zh: field(item, "zh", "text"), en: field(item, "en", "text"),
    });
  }
  const labs = new Map();
  for (const item of field(payload, "labs", "list")) {
    exactKeys(item, "a lab", ["id", "name", "acc"]);
    labs.set(field(item, "id", "uint"), { name: field(item, "name", "text"), acc: field(item, "acc", "text") });
  }
  const bases = field(payload, "bases", "list");
  if (bases.length === 0 || !bases.every((b) => typeof b === "string" && b.length <= 30 && BASE_PATTERN.test(b))) {
    throw new Error("the bundle's label bases are malformed");
  }
  const endorsements = [];
  for (const item of field(payload, "ends", "list")) {
    if (!(item instanceof Uint8Array)) throw new Error("an endorsement is not a byte string");
    endorsements.push(await decodeEndorsement(item, keys));
  }
  const logged = new Map();
  for (const item of field(payload, "logged", "list", true) ?? []) {
    logged.set(field(item, "k", "int"), field(item, "ser", "list").map(([low, high]) => {
      if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || low > high) throw new Error("a logged range is malformed");
      return [low, high];
    }));
  }
  return {
    keys, enterprises, licenses, categories, labs, endorsements, bases,
    issuedAt: field(payload, "iat", "uint"), expiresAt: field(payload, "exp", "uint"),
    log: await logOfPayload(payload, authority), logged,
    recalls: decodeRecalls(field(payload, "rcl", "list", true) || []),
  };
}

/** The bundle's item recalls (`rcl`, jdzhi/trace/recalls/compact.py): serial ranges coded as
 * differences, each range its low minus the previous high, then its high minus its low. */
function decodeRecalls(items) {
  return items.map((item) => {
    const flat = field(item, "s", "list");
    if (flat.length % 2 !== 0) throw new Error("a recall's serial ranges are not pairs");
    const ranges = [];
    let previous = 0;
    for (let at = 0; at < flat.length; at += 2) {
      const [gap, span] = [flat[at], flat[at + 1]];
      if (!Number.isSafeInteger(gap) || !Number.isSafeInteger(span) || gap < 1 || span < 0
        || previous + gap + span > MAX_SERIAL) {
        throw new Error("a recall's serial ranges are out of order or out of range");
      }
      ranges.push([previous + gap, previous + gap + span]);
      previous += gap + span;
    }
    const batch = field(item, "b", "text", true);
    return { id: field(item, "id", "int"), e: field(item, "e", "int"), at: field(item, "at", "int"),
      r: field(item, "r", "text"), b: batch === undefined ? null : batch, ranges };
  });
}

// ---------------------------------------------------------------------------------------------
// the registry's transparency log (docs/format.md, "Transparency log", "What a verifier remembers")

function base64Decode(text) {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new Error("not canonical base64");
  }
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  if (btoa(String.fromCharCode(...bytes)) !== text) throw new Error("not canonical base64");
  return bytes;
}

const half = (n) => Math.floor(n / 2);
const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

/** RFC 9162 §2.1.4.2, step by step; equal sizes need an empty proof and equal roots. */
export async function verifyConsistency(m, n, oldRoot, newRoot, proof) {
  if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m > 0 && m <= n)) return false;
  if (m === n) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  if (proof.length === 0 || proof.length > 64) return false;
  let odd = m;
  while (odd % 2 === 0) odd /= 2;
  const path = odd === 1 ? [oldRoot, ...proof] : [...proof];  // m a power of two: old root first
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) { fn = half(fn); sn = half(sn); }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}

/** A bundle's `ckpt` (its log signature checked under the authority key) and `cprf`. */
async function logOfPayload(payload, authority) {
  const note = field(payload, "ckpt", "text", true);
  if (note === undefined) return null;
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new Error("ckpt is not a signed note");
  const text = note.slice(0, split + 1);
  const [origin, size, root] = text.slice(0, -1).split("\n");
  if (!origin.startsWith("jdzhi/") || !/^(0|[1-9][0-9]{0,15})$/.test(size ?? "")) {
    throw new Error("ckpt is not a jdzhi checkpoint");
  }
  const rootHash = base64Decode(root ?? "");
  if (rootHash.length !== 32 || !Number.isSafeInteger(Number(size))) throw new Error("ckpt is malformed");
  const id = (await sha256(concat(utf8.encode(`${origin}\n`), new Uint8Array([1]), authority))).slice(0, 4);
  let signed = false;
  for (const line of note.slice(split + 2, -1).split("\n")) {
    const [dash, name, encoded, extra] = line.split(" ");
    const raw = base64Decode(encoded ?? "");
    if (dash !== "—" || extra !== undefined || raw.length <= 4) throw new Error("ckpt has a malformed signature line");
    if (name !== origin || !equalBytes(raw.slice(0, 4), id)) continue;  // a witness's, or unknown
    if (!await ed25519Verify(authority, raw.slice(4), utf8.encode(text))) throw new Error("ckpt signature");
    signed = true;
  }
  if (!signed) throw new Error("ckpt is not signed by the authority");
  const proofs = field(payload, "cprf", "list").map((item) => ({
    m: field(item, "m", "int"), n: field(item, "n", "int"), p: field(item, "p", "list"),
  }));
  if (!proofs.every((p) => p.n === Number(size) && p.p.every((h) => h instanceof Uint8Array && h.length === 32))) {
    throw new Error("cprf is malformed");
  }
  return { origin, size: Number(size), root: rootHash, proofs };
}

/** Refuse a bundle older than, or not a consistent extension of, the newest one this browser
 * accepted before; then remember it if it is newer. Returns true when the bundle is unlogged. */
export async function checkLogMemory(trust, authority, storage = globalThis.localStorage) {
  const slot = `jdzhi-log-${Array.from((await sha256(authority)).slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("")}`;
  let seen = null;
  try {
    seen = JSON.parse(storage.getItem(slot) ?? "null");
  } catch {
    seen = null;  // no storage here (a private window): nothing to compare with
  }
  const log = trust.log;
  const refuse = (zh, en) => new Stop("error", zh, en);
  if (seen !== null && trust.issuedAt < seen.iat) {
    throw refuse("可信数据比本机之前接受的更旧（回滚），已拒绝。",
      `The trust data is older than the one this browser accepted before (issued ${cstTime(seen.iat)}): rollback refused.`);
  }
  if (seen !== null && seen.size !== null) {
    if (log === null || log.origin !== seen.origin || log.size < seen.size) {
      throw refuse("可信数据的日志比本机之前接受的更旧（回滚），已拒绝。",
        `The trust data's log is older than the one this browser accepted before (${seen.size} entries): rollback refused.`);
    }
    const proof = log.size === seen.size ? [] : log.proofs.find((p) => p.m === seen.size)?.p;
    if (proof === undefined || !await verifyConsistency(seen.size, log.size, base64Decode(seen.root), log.root, proof)) {
      throw refuse("可信数据的日志与本机之前接受的历史不一致，已拒绝。",
        `The trust data's log is not a consistent extension of the one this browser accepted before (${seen.size} entries): refused.`);
    }
  }
  const newer = seen === null || trust.issuedAt > seen.iat
    || (log !== null && (seen.size === null || log.size > seen.size));
  if (newer) {
    const entry = log === null ? { iat: trust.issuedAt, origin: null, size: null, root: null }
      : { iat: trust.issuedAt, origin: log.origin, size: log.size, root: btoa(String.fromCharCode(...log.root)) };
    try {
      storage.setItem(slot, JSON.stringify(entry));
    } catch {
      // storage full or forbidden: the page still verifies, it just cannot remember
    }
  }
  return log === null;
}

// ---------------------------------------------------------------------------------------------
// verdict rules: the same order and outcomes as jdzhi/trace/verification/verifier.py `_judge`

/** The calendar date of a Unix time in China Standard Time (UTC+08:00), as YYYY-MM-DD. */
function cstDate(seconds) {
  return new Date((seconds + 8 * 3600) * 1000).toISOString().slice(0, 10);
}

export function cstTime(seconds) {
  return `${new Date((seconds + 8 * 3600) * 1000).toISOString().slice(0, 16).replace("T", " ")} (UTC+8)`;
}

/** [status, event]: active, suspended, revoked, expired or pending at the moment
 * (jdzhi/trace/trust/status.py `license_status_at`). */
export function statusAt(license, moment) {
  const inForce = license.events.filter((event) => event.at <= moment);
  if (inForce.length === 0) return ["pending", null];
  const latest = inForce[inForce.length - 1];
  if (latest.s !== "active") return [latest.s, latest];
  const day = cstDate(moment);
  let validTo = null;
  for (const event of inForce) if (event.to !== null) validTo = event.to;
  if (day < license.from) return ["pending", latest];
  if (validTo !== null && day > validTo) return ["expired", latest];
  return ["active", latest];
}

/** pending, active, expired, revoked or superseded at the moment (`key_status_at`). */
export function keyStatusAt(key, moment) {
  if (moment < key.nb) return "pending";
  if (key.end !== null && moment >= key.end.at) return key.end.kind;
  if (moment > key.na) return "expired";
  return "active";
}

function endorsementFor(trust, enterpriseId, serial) {
  let found = null;
  for (const e of trust.endorsements) {
    if (e.e !== enterpriseId) continue;
    if (e.ranges.some(([low, high]) => low <= serial && serial <= high)) {
      if (found === null || e.t >= found.t) found = e;
    }
  }
  return found;
}

export const say = (zh, en) => ({ zh, en });

async function judge(trust, label, now) {
  const signed = cstTime(label.signedAt);
  const base = { serial: String(label.serial), keyId: label.keyId, signedAt: label.signedAt };
  const result = (verdict, reasons, named = {}) => ({ verdict, reasons, ...base, ...named });
  const key = trust.keys.get(label.keyId);
  if (key === undefined) {
    return result("unknown-key", [say(`签名密钥 ${label.keyId} 从未经认证中心认证。`,
      `Key ${label.keyId} was never certified by the authority.`)]);
  }
  if (!await ed25519Verify(key.pk, label.signature, label.signingInput)) {
    return result("tampered", [say(`签名与已认证密钥 ${label.keyId} 不符：标签被改动或伪造。`,
      `The signature does not verify under certified key ${label.keyId}: the label was altered or forged.`)]);
  }
  if (key.role !== "licensee" || key.e === null || key.l === null) {
    return result("unknown-key", [say(`密钥 ${label.keyId} 是检测中心密钥，不是企业签名密钥。`,
      `Key ${label.keyId} is a testing-center key, not a licensee signing key.`)]);
  }
  const enterprise = trust.enterprises.get(key.e);
  const license = trust.licenses.get(key.l);
  const category = trust.categories.get(label.category);
  const named = { enterprise, license, category, endorsement: endorsementFor(trust, key.e, label.serial) };
  const keyStatus = keyStatusAt(key, label.signedAt);
  if (keyStatus === "pending") {
    return result("unknown-key", [say(`签发于 ${signed}，早于密钥 ${label.keyId} 的认证时间（${cstTime(key.nb)}）。`,
      `Signed ${signed}, before key ${label.keyId} was certified (${cstTime(key.nb)}).`)], named);
  }
  if (keyStatus === "superseded") {
    return result("expired", [say(`签发于 ${signed}，晚于密钥 ${label.keyId} 被替换的时间（${cstTime(key.end.at)}）。`,
      `Signed ${signed}, after key ${label.keyId} was replaced (${cstTime(key.end.at)}).`)], named);
  }
  if (keyStatus === "revoked") {
    return result("revoked", [say(`签发于 ${signed}，晚于密钥 ${label.keyId} 的吊销生效时间（${cstTime(key.end.at)}）：${key.end.r}`,
      `Signed ${signed}, after key ${label.keyId} was revoked effective ${cstTime(key.end.at)}: ${key.end.r}`)], named);
  }
  if (keyStatus === "expired") {
    return result("expired", [say(`签发于 ${signed}，晚于密钥 ${label.keyId} 的有效期（${cstTime(key.na)}）。`,
      `Signed ${signed}, after key ${label.keyId} expired (${cstTime(key.na)}).`)], named);
  }
  if (license === undefined || enterprise === undefined) {
    return result("unknown-key", [say(`可信数据中没有密钥 ${label.keyId} 的许可证。`,
      `The trust data does not know the license of key ${label.keyId}.`)], named);
  }
  const [status, event] = statusAt(license, label.signedAt);
  if (status !== "active") {
    const verdict = { revoked: "revoked", suspended: "suspended" }[status] || "expired";
    const why = event && event.r && status !== "expired" ? `：${event.r}` : "";
    const whyEn = event && event.r && status !== "expired" ? `: ${event.r}` : "";
    const zh = { revoked: "已被撤销", suspended: "已被暂停", expired: "已过期", pending: "尚未生效" }[status] || status;
    const en = { expired: "had expired", pending: "was not yet in force" }[status]
      || `was ${status}${event && (status === "revoked" || status === "suspended") ? ` effective ${cstTime(event.at)}` : ""}`;
    return result(verdict, [say(`签发于 ${signed}，当时许可证 ${license.no} ${zh}${why}`,
      `Signed ${signed}, when license ${license.no} ${en}${whyEn}`)], named);
  }
  if (!license.cats.has(label.category)) {
    const shown = category ? `${category.zh} ${category.en}` : `code ${label.category}`;
    return result("unknown-key", [say(`许可证 ${license.no} 不包括品类 ${shown}，密钥 ${label.keyId} 无权为其签名。`,
      `Key ${label.keyId} is not certified for category ${shown}: license ${license.no} does not cover it.`)], named);
  }
  const reasons = [say(`签名有效：${enterprise.name}（许可证 ${license.no}）的密钥 ${label.keyId} 于 ${signed} 签发，当时许可证有效。`,
    `Valid signature by key ${label.keyId} of ${enterprise.name} (license ${license.no}), signed ${signed} while the license was active.`)];
  if (category === undefined) {
    reasons.push(say(`可信数据不认识品类代码 ${label.category}。`, `Category code ${label.category} is unknown to this trust data.`));
  }
  const laterKey = keyStatusAt(key, Math.max(now, label.signedAt));
  if (laterKey === "revoked" || laterKey === "superseded") {
    const replaced = laterKey === "superseded";
    reasons.push(say(`密钥 ${label.keyId} 此后已被${replaced ? "替换" : "吊销"}（${cstTime(key.end.at)} 生效）；本标签签发在此之前。`,
      `Key ${label.keyId} has since been ${replaced ? "replaced" : "revoked"} (effective ${cstTime(key.end.at)}); this label was signed before.`));
  }
  const [later, laterEvent] = statusAt(license, Math.max(now, label.signedAt));
  if ((later === "revoked" || later === "suspended") && laterEvent !== null) {
    reasons.push(say(`许可证此后已被${later === "revoked" ? "撤销" : "暂停"}（${cstTime(laterEvent.at)} 生效：${laterEvent.r}）；本标签签发在此之前。`,
      `The license has since been ${later} (effective ${cstTime(laterEvent.at)}: ${laterEvent.r}); this label was signed before.`));
  } else if (later === "expired") {
    reasons.push(say("许可证此后已过期；本标签签发在此之前。", "The license has since expired; this label was signed before."));
  }
  const ranges = trust.logged.get(label.keyId);
  if (ranges !== undefined && !ranges.some(([low, high]) => low <= label.serial && label.serial <= high)) {
    return result("revoked", [say(`签发于 ${signed}，早于密钥 ${label.keyId} 的吊销，但未及时登记入日志：可能是被盗密钥倒签的。`,
      `Signed ${signed}, before the revocation of key ${label.keyId}, but not logged in time: the registry did not log this label before then, so it may be back-dated with a stolen key.`)], named);
  }
  return result("genuine", reasons, named);
}

/** The recall rule (verifier.py `_recall_rule`): the earliest recall in effect now of the
 * label's serial makes a genuine label "recalled" and is named beside a revoked, suspended or
 * expired one; unknown keys and forgeries keep their verdicts. A recall is about the item, so
 * whenever and by whichever key of the enterprise it was signed. */
function recalled(outcome, trust, now) {
  const key = trust.keys.get(outcome.keyId);
  if (!["genuine", "revoked", "suspended", "expired"].includes(outcome.verdict)
    || key === undefined || key.e === null) return outcome;
  const serial = Number(outcome.serial);
  const found = trust.recalls
    .filter((r) => r.e === key.e && r.at <= now
      && r.ranges.some(([low, high]) => low <= serial && serial <= high))
    .sort((a, b) => a.at - b.at || a.id - b.id)[0];
  if (found === undefined) return outcome;
  const what = found.b === null ? say("此序列号", "this serial") : say(`批次 ${found.b}`, `batch ${found.b}`);
  const reason = say(`已召回：${found.r}（${what.zh}，${cstTime(found.at)} 生效）`,
    `Recalled: ${found.r} (${what.en}, effective ${cstTime(found.at)})`);
  if (outcome.verdict === "genuine") return { ...outcome, verdict: "recalled", reasons: [reason, ...outcome.reasons] };
  return { ...outcome, reasons: [...outcome.reasons, say(`另：${reason.zh}`, `Also ${reason.en}`)] };
}

/** The outcome as out-of-date trust data can vouch for it (verifier.py `_confirmed`): a good
 * signature is stale-trust, and other verdicts say the data is old. */
function confirmed(outcome, trust, now) {
  if (now <= trust.expiresAt) return outcome;
  const expired = cstTime(trust.expiresAt);
  if (outcome.verdict === "genuine") {
    return { ...outcome, verdict: "stale-trust", reasons: [
      say(`无法确认：可信数据已于 ${expired} 过期，请获取最新数据。`,
        `Cannot confirm: trust data expired on ${expired}, fetch a fresh one.`),
      ...outcome.reasons] };
  }
  return { ...outcome, reasons: [...outcome.reasons,
    say("可信数据已过期，状态可能已变化。", `The trust data expired on ${expired}: statuses may be out of date.`)] };
}

// ---------------------------------------------------------------------------------------------
// the page

const HEADLINES = {
  genuine: ["正品 · 验证通过", "Genuine: the label is authentic"],
  tampered: ["标签被篡改或伪造", "Tampered or forged label"],
  "unknown-key": ["签名密钥未经认证", "Unknown signing key: not certified for this product"],
  revoked: ["许可或密钥已撤销", "Revoked: signed after the license or key was revoked"],
  suspended: ["许可已暂停", "Suspended: signed while the license was suspended"],
  expired: ["许可或密钥已过期", "Expired: signed outside the license or key's validity"],
  malformed: ["不是有效的景德镇制溯源标签", "Not a valid Jingdezhen Zhi label"],
  "stale-trust": ["无法确认：可信数据已过期", "Cannot confirm: the trust data is out of date"],
  recalled: ["已召回：此件已被登记中心召回", "Recalled: the registry withdrew this item"],
  unsupported: ["此浏览器无法验证", "This browser cannot verify labels"],
  error: ["无法验证", "Cannot verify"],
};
const ICONS = { genuine: "✓", suspended: "!", expired: "!", "stale-trust": "!", unsupported: "?", error: "?", idle: "▣" };

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

/** Chinese then English, each with its own lang attribute. */
export function bilingual(tag, text, attributes = {}) {
  return element(tag, attributes, element("span", { lang: "zh-Hans", class: "zh" }, text.zh),
    " ", element("span", { lang: "en", class: "en" }, text.en));
}

function fact(list, label, value) {
  list.append(element("dt", {}, element("span", { lang: "zh-Hans" }, label.zh), " ",
    element("span", { lang: "en", class: "en" }, label.en)));
  list.append(element("dd", {}, value));
}

function renderFacts(outcome, trust) {
  const list = document.getElementById("facts");
  list.replaceChildren();
  const claimed = outcome.serial !== undefined && !outcome.enterprise;
  document.getElementById("claimed").hidden = !claimed;
  if (outcome.serial !== undefined) fact(list, say("序列号", "Serial"), outcome.serial);
  if (outcome.enterprise) {
    const name = element("span", { lang: "zh-Hans" }, outcome.enterprise.name);
    fact(list, say("生产企业", "Enterprise"), name);
  }
  if (outcome.license) fact(list, say("许可证", "License"), outcome.license.no);
  if (outcome.category) {
    fact(list, say("品类", "Category"), bilingual("span", say(outcome.category.zh, outcome.category.en)));
  }
  if (outcome.signedAt !== undefined) fact(list, say("签发时间", "Signed"), cstTime(outcome.signedAt));
  if (outcome.enterprise) {
    const e = outcome.endorsement;
    const value = element("span", { "data-endorsement": e ? e.out : "none" });
    if (e === null) {
      value.append(bilingual("span", say("无检测背书", "No lab endorsement for this batch")));
    } else {
      const lab = trust.labs.get(e.lab);
      value.append(bilingual("strong", e.out === "pass" ? say("检测合格", "Tested: pass")
        : say("检测不合格", "Tested: FAIL")));
      value.append(element("span", { class: "meta" },
        `${lab ? lab.name : `lab ${e.lab}`} · ${e.r} · ${cstDate(e.tt)} · ${e.std}`));
    }
    fact(list, say("检测背书", "Lab endorsement"), value);
  }
  list.hidden = list.children.length === 0;
}

function renderTrust(trust, now, unlogged = false) {
  const box = document.getElementById("trust");
  box.replaceChildren();
  const days = Math.max(0, Math.floor((now - trust.issuedAt) / 86400));
  box.append(bilingual("p", say(
    `可信数据签发于 ${cstTime(trust.issuedAt)}（${days} 天前），有效至 ${cstTime(trust.expiresAt)}。`,
    `Trust data issued ${cstTime(trust.issuedAt)} (${days} day${days === 1 ? "" : "s"} ago), valid until ${cstTime(trust.expiresAt)}.`)));
  if (now > trust.expiresAt) {
    box.append(bilingual("p", say(
      "注意：可信数据已过期，此后的吊销或暂停可能未反映在结果中。",
      "Warning: the trust data has expired; revocations or suspensions since then may not be reflected."),
    { class: "stale", role: "note", "data-stale": "true" }));
  }
  if (unlogged) {
    box.append(bilingual("p", say("注意：可信数据没有登记日志的检查点（旧版本），无法核对其历史。",
      "Note: the trust data carries no checkpoint of the registry's log (unlogged, an older version): its history cannot be checked."),
    { role: "note", "data-unlogged": "true" }));
  }
  box.hidden = false;
}

function show(state, headline, detail, reasons = []) {
  const box = document.getElementById("verdict");
  const icon = ICONS[state] || "✕";
  box.className = `verdict verdict-${state}`;
  box.replaceChildren(
    element("p", { class: "icon", "aria-hidden": "true" }, icon),
    bilingual("h1", headline, { class: "headline" }),
  );
  if (detail) box.append(bilingual("p", detail, { class: "detail" }));
  const list = document.getElementById("reasons");
  list.replaceChildren(...reasons.map((reason) => bilingual("li", reason)));
  document.getElementById("why").hidden = reasons.length === 0;
}

function finish(state) {
  // set last, once everything is rendered: tools and tests wait for this attribute
  document.getElementById("verdict").setAttribute("data-verdict", state);
  performance.mark("jdzhi-verdict");
  document.documentElement.setAttribute("data-state", "done");
}

/** The payload: everything after the last "/" of the path, query and fragment included, so that
 * anything appended to a label makes it malformed here as in `jdzhi verify`. The page sees the
 * address as the browser normalized it (host case, "/../" segments, "\\" as "/"): a text that
 * normalizes to a label's own URL opens that label, as any link to it would. */
function payloadText() {
  const href = location.href;
  const afterOrigin = href.slice(href.indexOf("/", href.indexOf("//") + 2));
  return afterOrigin.slice(location.pathname.lastIndexOf("/") + 1);
}

/** The label's own text for the payload opened at this page's address: the payload after the
 * bundle's label base whose path is this page's folder. */
function labelText(trust, payload) {
  const folder = location.pathname.slice(0, location.pathname.lastIndexOf("/") + 1);
  const base = trust.bases.find((b) => b.slice(b.indexOf("/", b.indexOf("//") + 2)) === folder);
  return base === undefined ? null : base + payload;
}

/** Verify the label in the address and show the verdict; resolves to what report.js may send:
 * the verdict and, for a label that decoded, its text and serial. */
async function main() {
  const text = payloadText();
  if (text === "" || text === "index.html") {
    show("idle", say("请用手机相机扫描瓷器上的溯源二维码", "Scan the QR label on the porcelain with your phone camera"),
      say("打开二维码中的链接即可在本页验证真伪，无需安装应用。", "The link in the QR code opens this page, which checks the label right here, with no app."));
    document.documentElement.setAttribute("data-state", "idle");
    return { verdict: "idle", label: null, serial: null };
  }
  let state = "error";
  let checkedLabel = null;
  try {
    document.documentElement.setAttribute("data-ed25519", await checkEd25519Support());
    const meta = document.querySelector('meta[name="jdzhi-authority"]');
    let authority;
    try {
      authority = base64urlDecode(meta ? meta.content : "");
    } catch {
      throw new Stop("error", "本页面缺少认证中心公钥，无法验证。", "This page has no authority public key: it cannot verify anything.");
    }
    const trust = await loadTrust(authority);
    const unlogged = await checkLogMemory(trust, authority);
    const now = Math.floor(Date.now() / 1000);
    renderTrust(trust, now, unlogged);
    let label;
    try {
      label = decodeLabel(text);
    } catch (error) {
      state = "malformed";
      show(state, say(...HEADLINES.malformed), say("二维码内容不完整或被改动。", "The code is incomplete or was changed."),
        [say(`无法解码：${error.message}`, `Not a jdzhi label: ${error.message}`)]);
      renderFacts({}, trust);
      return { verdict: state, label: null, serial: null };
    }
    const outcome = confirmed(recalled(await judge(trust, label, now), trust, now), trust, now);
    state = outcome.verdict;
    show(state, say(...HEADLINES[state]), null, outcome.reasons);
    renderFacts(outcome, trust);
    checkedLabel = { label: labelText(trust, text), serial: outcome.serial };
  } catch (error) {
    const stop = error instanceof Stop ? error
      : new Stop("error", "验证过程出错。", `Verification failed unexpectedly: ${error.message}`);
    state = stop.state;
    show(state, say(...HEADLINES[state]), say(stop.zh, stop.en));
  } finally {
    finish(state);
  }
  return { verdict: state, label: null, serial: null, ...checkedLabel };
}

/** The page's own verdict, once shown (report.js reports it when the page is online). */
export const checked = typeof document !== "undefined" ? main() : Promise.resolve(null);
