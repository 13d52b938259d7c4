// The jdzhi verification page: verifies a Jingdezhen Zhi label in the browser, offline from the
// label in the address and the authority-signed trust bundle next to this script.
//
// It implements docs/format.md ("The label", "Trust bundle", "Verdicts") with WebCrypto Ed25519
// and a strict deterministic-CBOR decoder, and applies the same verdict rules, in the same order,
// as jdzhi/trace/verify.py (`jdzhi verify`): the browser tests hold the two to the same verdicts.
// Nothing here trusts a server: the bundle is checked against the authority key pinned in the
// page (<meta name="jdzhi-authority">), and every signature is checked here.
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
  if (!/^[A-Za-z0-9_-]{43}$/.test(text)) throw new Error("not a 32-byte base64url key");
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
 * (non-canonical 0 and 1): the small-order encodings libsodium refuses as a key or as R. */
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

/** libsodium's checks before its equation: S < L, a canonical key, no small-order key or R.
 * WebCrypto leaves some open (Chromium verifies S = 0 with R and the key both the identity). */
function refusedByLibsodium(publicKey, signature) {
  const y = (point) => littleEndian(point) & ((1n << 255n) - 1n);
  const smallOrder = (point) => SMALL_ORDER_Y.includes(y(point));
  return littleEndian(signature.subarray(32)) >= CURVE_ORDER || y(publicKey) >= FIELD_PRIME
    || smallOrder(publicKey) || smallOrder(signature.subarray(0, 32));
}

async function ed25519Verify(publicKey, signature, message) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || signature.length !== 64
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
  let message;
  try {
    if (bytes.length > MAX_BUNDLE_BYTES) throw new Error("too large");
    message = decodeSign1(bytes, "trust bundle");
  } catch (error) {
    throw refuse(error.message);
  }
  const kid = (await sha256(authority)).slice(0, 8);
  if (message.contentType !== CONTENT_TYPES.bundle || !equalBytes(message.kid, kid)
    || !await ed25519Verify(authority, message.signature,
      sigStructure(message, utf8.encode("jdzhi/bundle/1")))) {
    throw refuse("signature");
  }
  try {
    return await trustFromPayload(decodeCbor(message.payload, "trust bundle payload"), authority);
  } catch (error) {
    throw refuse(error.message);
  }
}

async function trustFromPayload(payload, authority) {
  if (!(payload instanceof Map) || payload.get("v") !== 1) throw new Error("unsupported bundle version");
  if (!equalBytes(field(payload, "apk", "bytes"), authority)) throw new Error("another authority key");
  const keys = new Map();
  for (const item of field(payload, "keys", "list")) {
    const role = field(item, "role", "text");
    if (role !== "licensee" && role !== "lab") throw new Error("a key has an unknown role");
    const end = field(item, "end", "map", true);
    const key = {
      k: field(item, "k", "int"), pk: field(item, "pk", "bytes"), role,
      nb: field(item, "nb", "int"), na: field(item, "na", "int"),
      e: role === "licensee" ? field(item, "e", "int") : null,
      l: role === "licensee" ? field(item, "l", "int") : null,
      lab: role === "lab" ? field(item, "lab", "int") : null,
      end: end === undefined ? null
        : { at: field(end, "at", "int"), kind: field(end, "kind", "text"), r: field(end, "r", "text") },
    };
    keys.set(key.k, key);
  }
  const enterprises = new Map();
  for (const item of field(payload, "ents", "list")) {
    enterprises.set(field(item, "id", "int"), {
      name: field(item, "name", "text"), short: field(item, "short", "text"),
      uscc: field(item, "uscc", "text"),
    });
  }
  const licenses = new Map();
  for (const item of field(payload, "lics", "list")) {
    licenses.set(field(item, "id", "int"), {
      e: field(item, "e", "int"), no: field(item, "no", "text"),
      from: isoDate(field(item, "from", "text")),
      cats: new Set(field(item, "cats", "list").map((code) => {
        if (!Number.isSafeInteger(code)) throw new Error("a license category is not an integer");
        return code;
      })),
      events: field(item, "ev", "list").map((ev) => {
        const to = field(ev, "to", "text", true);
        return { s: field(ev, "s", "text"), at: field(ev, "at", "int"), r: field(ev, "r", "text"),
          to: to === undefined ? null : isoDate(to) };
      }),
    });
  }
  const categories = new Map();
  for (const item of field(payload, "cats", "list")) {
    categories.set(field(item, "c", "int"), {
      code: field(item, "code", "text"), zh: field(item, "zh", "text"), en: field(item, "en", "text"),
    });
  }
  const labs = new Map();
  for (const item of field(payload, "labs", "list")) {
    labs.set(field(item, "id", "int"), { name: field(item, "name", "text"), acc: field(item, "acc", "text") });
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
  return {
    keys, enterprises, licenses, categories, labs, endorsements, bases,
    issuedAt: field(payload, "iat", "int"), expiresAt: field(payload, "exp", "int"),
  };
}

// ---------------------------------------------------------------------------------------------
// verdict rules: the same order and outcomes as jdzhi/trace/verify.py `_judge`

/** The calendar date of a Unix time in China Standard Time (UTC+08:00), as YYYY-MM-DD. */
function cstDate(seconds) {
  return new Date((seconds + 8 * 3600) * 1000).toISOString().slice(0, 10);
}

function cstTime(seconds) {
  return `${new Date((seconds + 8 * 3600) * 1000).toISOString().slice(0, 16).replace("T", " ")} (UTC+8)`;
}

/** [status, event]: active, suspended, revoked, expired or pending at the moment. */
function statusAt(license, moment) {
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

const say = (zh, en) => ({ zh, en });

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
  if (label.signedAt < key.nb) {
    return result("unknown-key", [say(`签发于 ${signed}，早于密钥 ${label.keyId} 的认证时间（${cstTime(key.nb)}）。`,
      `Signed ${signed}, before key ${label.keyId} was certified (${cstTime(key.nb)}).`)], named);
  }
  if (key.end !== null && label.signedAt >= key.end.at) {
    if (key.end.kind === "superseded") {
      return result("expired", [say(`签发于 ${signed}，晚于密钥 ${label.keyId} 被替换的时间（${cstTime(key.end.at)}）。`,
        `Signed ${signed}, after key ${label.keyId} was replaced (${cstTime(key.end.at)}).`)], named);
    }
    return result("revoked", [say(`签发于 ${signed}，晚于密钥 ${label.keyId} 的吊销生效时间（${cstTime(key.end.at)}）：${key.end.r}`,
      `Signed ${signed}, after key ${label.keyId} was revoked effective ${cstTime(key.end.at)}: ${key.end.r}`)], named);
  }
  if (label.signedAt > key.na) {
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
  if (key.end !== null && key.end.at <= now) {
    const replaced = key.end.kind === "superseded";
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
  return result("genuine", reasons, named);
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
  unsupported: ["此浏览器无法验证", "This browser cannot verify labels"],
  error: ["无法验证", "Cannot verify"],
};
const ICONS = { genuine: "✓", suspended: "!", expired: "!", unsupported: "?", error: "?", idle: "▣" };

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

/** Chinese then English, each with its own lang attribute. */
function bilingual(tag, text, attributes = {}) {
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

function renderTrust(trust, now) {
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

async function main() {
  const text = payloadText();
  if (text === "" || text === "index.html") {
    show("idle", say("请用手机相机扫描瓷器上的溯源二维码", "Scan the QR label on the porcelain with your phone camera"),
      say("打开二维码中的链接即可在本页验证真伪，无需安装应用。", "The link in the QR code opens this page, which checks the label right here, with no app."));
    document.documentElement.setAttribute("data-state", "idle");
    return;
  }
  let state = "error";
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
    const now = Math.floor(Date.now() / 1000);
    renderTrust(trust, now);
    let label;
    try {
      label = decodeLabel(text);
    } catch (error) {
      state = "malformed";
      show(state, say(...HEADLINES.malformed), say("二维码内容不完整或被改动。", "The code is incomplete or was changed."),
        [say(`无法解码：${error.message}`, `Not a jdzhi label: ${error.message}`)]);
      renderFacts({}, trust);
      return;
    }
    const outcome = await judge(trust, label, now);
    state = outcome.verdict;
    const stale = now > trust.expiresAt
      ? [say("可信数据已过期，状态可能已变化。", `The trust data expired on ${cstTime(trust.expiresAt)}: statuses may be out of date.`)] : [];
    show(state, say(...HEADLINES[state]), null, [...outcome.reasons, ...stale]);
    renderFacts(outcome, trust);
  } catch (error) {
    const stop = error instanceof Stop ? error
      : new Stop("error", "验证过程出错。", `Verification failed unexpectedly: ${error.message}`);
    state = stop.state;
    show(state, say(...HEADLINES[state]), say(stop.zh, stop.en));
  } finally {
    finish(state);
  }
}

main();
