// The page online: when `jdzhi server` serves it, and only then, the page reports each check to
// the traceability center after its own verdict and shows in the verdict card how often the serial
// has been checked and any clone warning the center has. The server names its scan endpoint in
// <meta name="jdzhi-scans" content="/api/v1/scans">; `jdzhi page export` (static hosting) and
// `jdzhi serve` leave it empty, and then this module does nothing.
//
// The verdict stays the page's own (verify.js decides it before anything is sent): nothing the
// center answers changes it, and when the center cannot be reached the page says, quietly, that the
// count is unavailable. A location goes with a check only after the person tapped "share" on this
// device (remembered in localStorage), rounded to 0.01 degree, about 1 km.
"use strict";

import { bilingual, checked, cstTime, element, say } from "./verify.js";

/** How long the page waits for the center before it calls the count unavailable. */
const CENTER_TIMEOUT_MS = 5000;
const POSITION_TIMEOUT_MS = 10000;
/** localStorage: "yes" once the person agreed to share an approximate location, "no" if not. */
const CONSENT_KEY = "jdzhi-share-location";

/** The center's scan endpoint, when this page is served by `jdzhi server` (same origin only). */
function scanEndpoint() {
  const meta = document.querySelector('meta[name="jdzhi-scans"]');
  if (!meta || !meta.content) return null;
  const url = new URL(meta.content, location.href);
  return url.origin === location.origin ? url : null;
}

function storedConsent() {
  try {
    return globalThis.localStorage.getItem(CONSENT_KEY);
  } catch {
    return null; // storage forbidden: ask every time, share nothing
  }
}

function storeConsent(value) {
  try {
    if (value === null) globalThis.localStorage.removeItem(CONSENT_KEY);
    else globalThis.localStorage.setItem(CONSENT_KEY, value);
  } catch {
    // storage forbidden: the choice holds for this page only
  }
}

/** The device's position as the center takes it ("lat,lon"), rounded to 0.01 degree (about
 * 1 km); null when there is none (no permission, no fix, no geolocation). */
function approximatePosition() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) {
      resolve(null);
      return;
    }
    navigator.geolocation.getCurrentPosition(
      ({ coords }) => resolve(`${coords.latitude.toFixed(2)},${coords.longitude.toFixed(2)}`),
      () => resolve(null),
      { enableHighAccuracy: false, timeout: POSITION_TIMEOUT_MS, maximumAge: 10 * 60 * 1000 });
  });
}

/** POST the scan; the center's answer, or an Error (network, timeout, 4xx/5xx, not JSON). */
async function sendScan(endpoint, label, where) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), CENTER_TIMEOUT_MS);
  try {
    const body = { label, source: "page", ...(where === null ? {} : { location: where }) };
    const response = await fetch(endpoint, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      cache: "no-store", credentials: "omit", signal: abort.signal,
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const answer = await response.json();
    if (answer === null || typeof answer !== "object") throw new Error("not a JSON object");
    return answer;
  } finally {
    clearTimeout(timer);
  }
}

/** The count (a positive integer) and first time (Unix seconds) in the center's answer about
 * this serial, or null when it has none (a label it does not know) or it is about another. */
function countOf(answer, serial) {
  const first = typeof answer.first_checked_at === "string" ? Date.parse(answer.first_checked_at) : NaN;
  if (answer.serial !== serial || !Number.isSafeInteger(answer.checks) || answer.checks < 1
    || Number.isNaN(first)) return null;
  return { checks: answer.checks, first: Math.floor(first / 1000) };
}

/** The center's finding that inspectors confirmed (a verdict), or its warning from anonymous
 * checks; each with the center's own words (English) as the detail. */
function cloneOf(answer) {
  if (answer.verdict === "suspected-clone") {
    const reasons = Array.isArray(answer.reasons) ? answer.reasons : [];
    const why = reasons.find((r) => typeof r === "string" && r.startsWith("suspected clone"));
    return { kind: "suspected", detail: why || "" };
  }
  if (typeof answer.clone_warning === "string" && answer.clone_warning !== "") {
    return { kind: "warning", detail: answer.clone_warning };
  }
  return null;
}

const CLONE_TEXTS = {
  suspected: say(
    "疑似克隆（稽查员已确认）：登记中心的稽查员已将此序列号标记为疑似克隆。签名虽然有效，这枚标签可能是从正品上复制的。请勿购买，并联系销售方或登记中心。",
    "Suspected clone, confirmed by the registry's inspectors: they flagged this serial. The signature is valid, but this label may have been copied from a genuine item. Do not buy it; contact the seller or the registry."),
  warning: say(
    "提示：近期有不同的人在多个地方查询过此序列号，可能存在复制的标签。此提示来自匿名查询，尚未经稽查员确认。",
    "Caution: different people have recently checked this serial in several places, so copies of this label may exist. This comes from anonymous checks and is not confirmed by an inspector."),
};

function centerBox() {
  const box = element("div", { id: "center", class: "center", "data-center": "pending" });
  box.append(bilingual("p", say("正在向溯源中心查询此标签被查询的次数…",
    "Asking the traceability center how often this label was checked…"), { class: "count" }));
  document.getElementById("verdict").append(box);
  return box;
}

function showAnswer(box, answer, serial) {
  const count = countOf(answer, serial);
  const parts = [];
  if (count === null) {
    parts.push(bilingual("p", say("本次查询已报告给溯源中心。", "This check was reported to the traceability center."),
      { class: "count" }));
  } else {
    const first = cstTime(count.first);
    const times = count.checks === 1 ? "1 time" : `${count.checks} times`;
    parts.push(bilingual("p", say(`第 ${count.checks} 次查询 · 首次查询于 ${first}`,
      `Checked ${times}, first on ${first}`), { class: "count" }));
    box.setAttribute("data-checks", String(count.checks));
  }
  const clone = cloneOf(answer);
  if (clone !== null) {
    const note = bilingual("p", CLONE_TEXTS[clone.kind], { class: `clone clone-${clone.kind}`, role: "alert" });
    if (clone.detail) note.append(element("span", { class: "meta", lang: "en" }, clone.detail));
    parts.push(note);
    box.setAttribute("data-clone", clone.kind);
  }
  box.replaceChildren(...parts);
  box.setAttribute("data-center", count === null ? "reported" : "counted");
}

function showUnavailable(box, why) {
  box.replaceChildren(bilingual("p", say("暂时无法获取查询次数（溯源中心未答复）；上面的验证结果由本机得出，不受影响。",
    "The check count is unavailable (no answer from the traceability center); the result above was reached on this device and stands."),
  { class: "count offline" }));
  box.setAttribute("data-center", "unavailable");
  box.setAttribute("data-why", why);
}

// ---------------------------------------------------------------------------------------------
// asking before any location is sent

const ROUNDING = say("位置四舍五入到小数点后两位（约 1 公里），不含任何其他个人信息。",
  "Your location is rounded to two decimals (about 1 km) and carries nothing else about you.");

function button(text, action, primary = false) {
  const node = bilingual("button", text, { type: "button", class: primary ? "primary" : "secondary" });
  node.addEventListener("click", action);
  return node;
}

/** The share box below the verdict: the question, or the choice made on this device. */
function showShare(state, sentWith = null) {
  const box = document.getElementById("share");
  if (!box) return;
  const render = (next, where) => showShare(next, where);
  const agree = async (event) => {
    event.currentTarget.disabled = true;
    const where = await approximatePosition(); // the browser asks for permission here
    if (where === null) {
      render("failed");
      return;
    }
    storeConsent("yes");
    render("agreed", where);
  };
  const decline = () => {
    storeConsent("no");
    render("declined");
  };
  const stop = () => {
    storeConsent(null);
    render("ask");
  };
  const parts = {
    ask: () => [
      bilingual("p", say("分享我的位置，帮助发现仿冒标签？", "Share my location to help detect copied labels?"), { class: "question" }),
      bilingual("p", say("只有您点按“分享位置”后，此设备之后的查询才会附带位置，且四舍五入到约 1 公里。本次查询未附带位置。",
        "Only after you tap “Share my location” will this device's later checks carry it, rounded to about 1 km. This check was sent without it."), { class: "note" }),
      element("p", { class: "actions" }, button(say("分享位置", "Share my location"), agree, true),
        " ", button(say("不分享", "No thanks"), decline)),
    ],
    agreed: () => [
      bilingual("p", say(`已开启：此设备之后的查询会附带大致位置（现在为 ${sentWith}）。`,
        `Sharing is on: this device's later checks will carry an approximate location (now ${sentWith}).`)),
      bilingual("p", ROUNDING, { class: "note" }),
      element("p", { class: "actions" }, button(say("停止分享", "Stop sharing"), stop)),
    ],
    shared: () => [
      bilingual("p", sentWith === null
        ? say("未能获取位置，本次查询未附带位置。", "Your location could not be read: this check was sent without one.")
        : say(`本次查询附带了大致位置 ${sentWith}（约 1 公里）。`, `This check carried your approximate location, ${sentWith} (about 1 km).`)),
      element("p", { class: "actions" }, button(say("停止分享", "Stop sharing"), stop)),
    ],
    declined: () => [
      bilingual("p", say("不分享位置：查询不附带任何位置。", "Location not shared: checks carry no location.")),
      element("p", { class: "actions" }, button(say("改为分享", "Share it after all"), agree)),
    ],
    failed: () => [
      bilingual("p", say("未能获取位置（浏览器未允许，或暂时无法定位），没有发送任何位置信息。",
        "Your location could not be read (not allowed, or no fix); nothing about it was sent.")),
      element("p", { class: "actions" }, button(say("再试一次", "Try again"), agree),
        " ", button(say("不分享", "No thanks"), decline)),
    ],
  }[state]();
  box.replaceChildren(...parts);
  box.setAttribute("data-share", state);
  box.hidden = false;
}

// ---------------------------------------------------------------------------------------------

async function report() {
  const endpoint = scanEndpoint();
  if (endpoint === null) return; // an offline page: nothing leaves this device
  const done = await checked;
  if (done === null || !done.label) return; // no label decoded, nothing verified: nothing to report
  const box = centerBox();
  const consent = storedConsent();
  const where = consent === "yes" ? await approximatePosition() : null;
  let answer;
  try {
    answer = await sendScan(endpoint, done.label, where);
  } catch (error) {
    showUnavailable(box, error.name === "AbortError" ? "timeout" : error.message);
    return;
  }
  showAnswer(box, answer, done.serial);
  if (consent === "yes") showShare("shared", where);
  else showShare(consent === "no" ? "declined" : "ask");
}

if (typeof document !== "undefined") {
  report().catch((error) => {
    // the verdict is shown already; a bug here must not disturb it, nor leave "asking…" up
    const box = document.getElementById("center");
    if (box !== null && box.getAttribute("data-center") === "pending") showUnavailable(box, error.message);
  });
}
