// The operator station: one scan field, always focused; every scan answers at once with colour,
// sound and a sentence. Reports go into the tablet's outbox first and are sent in order, so a
// lost connection only delays them; the server's idempotency on client_id makes a
// resend harmless. Every sentence comes translated from the page (#station-text).

import { ANDON_KINDS, normalValue, parseScan } from "./scan.js";
import { Store } from "./store.js";
import { keepInstructionsOffline, queuedInstructions, renderInstructions } from "./instructions.js";
import { correctionScan, loadMyReports, setupMyReports } from "./my_reports.js";

const config = JSON.parse(document.getElementById("station-config").textContent);
const TEXT = JSON.parse(document.getElementById("station-text").textContent);
const $ = (id) => document.getElementById(id);
const scan = $("scan");
const REQUEST_TIMEOUT_MS = 10000;
const RETRY_EVERY_MS = 10000;
const REMEMBERED_OPERATIONS = 30;
const MY_REPORTS_EVERY_MS = 30000;

const state = { operator: null, operation: null, values: emptyValues(), pinFor: null, inspectionTarget: null };
const outcomes = new Map(); // client_id → {sent} | {refused}, for the report the operator just made
let store;
let flushing = null;
let failedAt = 0; // when the server last failed to answer: until the next retry, reports are kept at once

function emptyValues() {
  return { good: "", scrap: "", rework: "", reason: "", pauseReason: "", lots: [] };
}

function t(key, params = {}) {
  if (params.sequence !== undefined) params = { ...params, sequence: sequenceText(params.sequence) };
  return (TEXT[key] ?? key).replace(/%\((\w+)\)s/g, (_match, name) => String(params[name] ?? ""));
}

// --- feedback ---------------------------------------------------------------------------

let audio = null;

function beep(kind) {
  const tones = { ok: [[1046, 0.09]], warn: [[660, 0.08], [660, 0.08]], refused: [[220, 0.18], [165, 0.26]] }[kind];
  if (!tones) return;
  try {
    audio ??= new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
    let at = audio.currentTime;
    for (const [frequency, seconds] of tones) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = kind === "refused" ? "square" : "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.25, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + seconds);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(at);
      oscillator.stop(at + seconds);
      at += seconds + 0.04;
    }
  } catch {
    // No audio output: the colour and the sentence still tell.
  }
}

// The operation as people read it everywhere (the routing's four digits): WO-1001 / 0010.
function sequenceText(sequence) {
  return String(sequence).padStart(4, "0");
}

/** Say ``message``; ``offers`` are buttons for what to do next ({label, scan} or {label, key}), tapped like the keypad. */
function say(kind, message, offers = []) {
  const box = $("message");
  box.textContent = message;
  $("offer").replaceChildren(
    ...offers.map((offer) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = offer.label;
      if (offer.scan) button.dataset.scan = offer.scan;
      if (offer.key) button.dataset.key = offer.key;
      if (offer.inspect) button.dataset.inspect = offer.inspect;
      if (offer.correctReason) button.dataset.correctReason = offer.correctReason;
      return button;
    }),
  );
  $("offer").hidden = offers.length === 0;
  box.dataset.kind = kind;
  document.body.dataset.flash = "";
  void document.body.offsetWidth; // restart the flash animation
  document.body.dataset.flash = kind;
  beep(kind);
  focusScan();
}

const ok = (message) => say("ok", message);
const refuse = (message, offers) => say("refused", message, offers);

/** The field what is typed lands in: the measured value's while a measurement is asked for, else the scan field. */
function entryField() {
  return measuring() ? $("inspection-value") : scan;
}

function focusScan() {
  const field = entryField();
  if (document.activeElement !== field) field.focus({ preventScroll: true });
}

// --- the server ---------------------------------------------------------------------------

function csrfToken() {
  const match = document.cookie.match(new RegExp(`(?:^|; )${config.csrf_cookie}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : "";
}

/** {data} on success, {error} on a refusal, {network: true} when the server cannot answer now. */
async function call(method, url, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      signal: controller.signal,
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (response.ok && payload) return { status: response.status, data: payload };
    if (response.status < 500 && payload && payload.error) return { status: response.status, error: payload.error };
    return { network: true, status: response.status }; // a proxy's 502, a page instead of JSON: try again later
  } catch {
    return { network: true };
  } finally {
    clearTimeout(timer);
  }
}

function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Plain http on a plant network is not a secure context: no randomUUID, but getRandomValues.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function setOnline(online) {
  failedAt = online ? 0 : Date.now();
  const badge = $("connection");
  badge.textContent = online ? t("online") : t("offline");
  badge.dataset.online = online ? "true" : "false";
}

// --- what the screen shows ------------------------------------------------------------------

async function saveState() {
  await store.put("kv", { operator: state.operator, operation: state.operation, values: state.values }, "state");
}

function quantityText(good, scrap, rework) {
  const parts = [];
  if (Number(good) > 0) parts.push(t("quantity_good", { value: good }));
  if (Number(scrap) > 0) parts.push(t("quantity_scrap", { value: scrap }));
  if (Number(rework) > 0) parts.push(t("quantity_rework", { value: rework }));
  return parts.join(" · ");
}

function reasonText(code) {
  const reason = config.reasons[code];
  return code ? `${code}${reason ? ` ${reason.name}` : ""}` : "–";
}

// Who is clocked on the open operation, as the server last said (each start, report, pause and clock-off answers it).
function renderClockedOn(operation) {
  const clocked = operation && Array.isArray(operation.clocked_on) ? operation.clocked_on : null;
  $("op-clocked").textContent = clocked ? clocked.map((person) => `${person.name} ${person.badge}`.trim()).join(", ") || t("clocked_on_nobody") : "–";
}

function render() {
  const { operator, operation, values } = state;
  $("operator").textContent = operator ? `${operator.name || ""} ${operator.badge}`.trim() : t("nobody");
  $("operator").dataset.signedIn = operator ? "true" : "false";
  $("op-title").textContent = operation
    ? `${operation.work_order} / ${sequenceText(operation.sequence)}${operation.name ? ` · ${operation.name}` : ""}`
    : t("no_operation");
  const figures = {
    "op-item": operation && operation.item ? `${operation.item} ${operation.item_name}` : "–",
    "op-status": operation && operation.status_label ? operation.status_label : "–",
    "op-planned": operation && operation.planned ? `${operation.planned} ${operation.unit}` : "–",
    "op-done": operation && operation.good !== undefined ? quantityText(operation.good, operation.scrap, operation.rework) || "0" : "–",
    "op-remaining": operation && operation.remaining !== undefined ? operation.remaining : "–",
    "op-available": operation && operation.available !== undefined ? operation.available : "–",
    "entry-good": values.good || "–",
    "entry-scrap": values.scrap || "–",
    "entry-rework": values.rework || "–",
    "entry-reason": reasonText(values.reason),
    "entry-pause-reason": reasonText(values.pauseReason),
    "entry-lots": values.lots.length ? values.lots.map((lot) => (lot.gtin ? `${lot.lot} (${lot.gtin})` : lot.lot)).join(", ") : "–",
  };
  for (const [id, text] of Object.entries(figures)) $(id).textContent = text;
  renderClockedOn(operation);
  renderInspection(operation);
  renderInstructions(operation, t);
  $("operation-card").dataset.offline = operation && operation.offline ? "true" : "false";
  markQueue();
  for (const anchor of document.querySelectorAll("a[data-traveler]")) {
    anchor.hidden = !operation;
    if (operation) anchor.href = `${config.urls.traveler.replace("__NUMBER__", encodeURIComponent(operation.work_order))}?language=${anchor.dataset.traveler}`;
  }
}

// The work queue's row of the open operation is marked; the queue is refreshed by htmx, so again after each swap.
function markQueue() {
  const open = state.operation ? `${state.operation.work_order}/${state.operation.sequence}` : "";
  for (const button of document.querySelectorAll("#queue button[data-operation]")) {
    if (button.dataset.operation === open) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

function listItem(entry, extra) {
  const body = entry.body;
  const item = document.createElement("li");
  const time = new Date(body.confirmed_at).toLocaleTimeString(config.language, { hour: "2-digit", minute: "2-digit" });
  item.textContent = `${time}  ${body.work_order} / ${sequenceText(body.operation)}  ${quantityText(body.good_qty, body.scrap_qty, body.rework_qty)}${body.final ? " ✔" : ""}  ${body.operator_badge}`;
  if (extra) item.append(extra);
  return item;
}

async function renderQueues() {
  const pending = await store.all("outbox");
  const refused = await store.all("refused");
  $("pending-count").textContent = String(pending.length);
  $("pending-count").dataset.count = String(pending.length);
  $("pending").hidden = pending.length === 0;
  $("pending-list").replaceChildren(...pending.map((entry) => listItem(entry)));
  $("refused").hidden = refused.length === 0;
  $("refused-list").replaceChildren(
    ...refused.map((entry) => {
      const why = document.createElement("div");
      why.className = "why";
      why.textContent = `${t("refused_at")} ${entry.error.message}`;
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.ack = entry.client_id;
      button.textContent = t("acknowledge");
      why.append(" ", button);
      return listItem(entry, why);
    }),
  );
}

function refreshPanels() {
  if (window.htmx) window.htmx.trigger(document.body, "station-refresh");
}

// --- sending what the tablet keeps -----------------------------------------------------------

async function rememberOperation(operation) {
  if (!operation) return;
  const key = `${operation.work_order}/${operation.sequence}`;
  const seen = (await store.get("kv", "operations")) || [];
  const keep = [key, ...seen.filter((other) => other !== key)];
  for (const gone of keep.splice(REMEMBERED_OPERATIONS)) await store.delete("kv", `operation:${gone}`);
  await store.put("kv", keep, "operations");
  await store.put("kv", operation, `operation:${key}`);
  if (state.operation && `${state.operation.work_order}/${state.operation.sequence}` === key) {
    state.operation = operation;
    await saveState();
  }
}

/** Send the kept reports, oldest first; stop at the first that cannot go now. */
async function drain() {
  let sentLater = 0;
  let stopped = "empty";
  for (;;) {
    const entry = await store.first("outbox");
    if (!entry) break;
    const result = await call("POST", config.urls.report, entry.body);
    if (result.network) {
      setOnline(false);
      stopped = "offline";
      break;
    }
    setOnline(true);
    if (result.error && result.error.code === "not_a_station") {
      $("blocked").hidden = false; // keep every report: a supervisor can make the tablet a station again
      stopped = "blocked";
      break;
    }
    const live = entry.live && outcomes.has(entry.body.client_id);
    if (result.error) {
      if (live) {
        await store.delete("outbox", entry.seq);
        outcomes.set(entry.body.client_id, { refused: result.error });
      } else {
        // Refused on replay: shown until someone acknowledges it, never dropped silently.
        await store.refuse(entry.seq, { client_id: entry.body.client_id, body: entry.body, error: result.error, refused_at: new Date().toISOString() });
      }
      continue;
    }
    await store.delete("outbox", entry.seq);
    if (live) {
      outcomes.set(entry.body.client_id, { sent: result.data });
      showOutputLabels(result.data.output);
    }
    else sentLater += 1;
    await rememberOperation(result.data.operation);
  }
  if (sentLater) $("sync-note").textContent = t("sent_later", { count: sentLater });
  await renderQueues();
  render();
  refreshPanels();
  return stopped;
}

function flush() {
  flushing ??= drain().finally(() => {
    flushing = null;
  });
  return flushing;
}

// --- what each scan does ---------------------------------------------------------------------

async function beginSignIn(badge) {
  if (config.pin_required) {
    state.pinFor = badge;
    setPinMode(true);
    return say("info", t("pin_expected"));
  }
  return signIn(badge, "");
}

function setPinMode(on) {
  scan.type = on ? "password" : "text";
  scan.placeholder = on ? t("pin_placeholder") : t("scan_placeholder");
}

async function signIn(badge, pin) {
  state.pinFor = null;
  setPinMode(false);
  const result = await call("POST", config.urls.sign_in, { badge, pin });
  if (result.network) {
    setOnline(false);
    if (config.pin_required) return refuse(t("offline_pin"));
    const known = (await store.get("kv", `operator:${badge}`)) || {};
    state.operator = { badge, name: known.name || "", token: "" };
    state.values = emptyValues();
    await saveState();
    render();
    return say("warn", t("signed_in_offline", { badge }));
  }
  setOnline(true);
  if (result.error) return refuse(result.error.message);
  state.operator = { badge: result.data.badge, name: result.data.name, token: result.data.token };
  state.values = emptyValues();
  await store.put("kv", { name: result.data.name }, `operator:${result.data.badge}`);
  await saveState();
  render();
  loadMyReports();
  return ok(t("signed_in", { name: result.data.name, badge: result.data.badge }));
}

async function openOperation(number, sequence) {
  const key = `${number}/${sequence}`;
  const url = `${config.urls.operation}?work_order=${encodeURIComponent(number)}&operation=${sequence}`;
  const result = await call("GET", url);
  if (result.network) {
    setOnline(false);
    const seen = await store.get("kv", `operation:${key}`);
    state.operation = { ...(seen || { work_order: number, sequence, instructions: queuedInstructions(number, sequence) }), offline: true };
    state.values = emptyValues(); // a scan of the traveler starts a fresh report, whatever was left entered
    await saveState();
    render();
    return say("warn", t("operation_opened_offline", { work_order: number, sequence }));
  }
  setOnline(true);
  if (result.error) return refuse(result.error.message);
  state.operation = result.data;
  state.values = emptyValues();
  state.inspectionTarget = null;
  await rememberOperation(result.data);
  keepInstructionsOffline(result.data);
  await saveState();
  render();
  return ok(t("operation_opened", { work_order: number, sequence, name: result.data.name }));
}

async function setValue(field, value, message) {
  state.values[field] = value;
  await saveState();
  render();
  return ok(message);
}

async function setReason(code, promptState) {
  const reason = config.reasons[code];
  if (!reason) return refuse(t("reason_unknown", { code }));
  if (reason.kind === "andon") return raiseAndon(null, "high", code); // ACT:ANDON then RC:<andon reason>, or the reason alone
  const prompts = [...document.querySelectorAll("#downtime [data-prompt]")].map((element) => element.dataset.prompt);
  if (promptState || reason.kind === "downtime" || (reason.kind === "pause" && prompts.length)) {
    const target = promptState || prompts[0];
    if (!target) return refuse(t("no_downtime_waiting", { code }));
    return answerDowntime(target, code);
  }
  if (!state.operation) return refuse(t("scan_operation_first"));
  if (reason.kind === "pause") return setValue("pauseReason", code, t("pause_reason_set", { code, name: reason.name }));
  return setValue("reason", code, t("reason_set", { code, name: reason.name }));
}

function operatorFields() {
  return { operator_badge: state.operator.badge, operator_token: state.operator.token || "" };
}

async function answerDowntime(stateId, code) {
  const result = await call("POST", config.urls.downtime, { state: Number(stateId), reason_code: code, ...operatorFields() });
  if (result.network) return refuse(t("offline_needed"));
  if (result.error) return refuse(result.error.message);
  refreshPanels();
  return ok(t("downtime_answered", { code, equipment: result.data.equipment }));
}

async function addLot(lot, gtin) {
  if (!state.operation) return refuse(t("scan_operation_first"));
  if (state.values.lots.some((known) => known.lot === lot && known.gtin === gtin)) return say("warn", t("lot_again", { lot }));
  state.values.lots.push({ lot, gtin });
  await saveState();
  render();
  return ok(t("lot_added", { lot }));
}

// --- material issues: LOT:<item>:<lot>[:<quantity>] issues a lot to the open operation ---------

let approvalFor = null; // the issue waiting for a supervisor's badge, until another scan

async function issueAnswer(result) {
  if (result.network) {
    setOnline(false);
    return refuse(t("offline_needed"));
  }
  setOnline(true);
  if (result.error) return refuse(result.error.message);
  const { issue, approval } = result.data;
  if (approval) {
    approvalFor = issue.id;
    return say("warn", `${approval.message} ${t("issue_scan_supervisor")}`);
  }
  approvalFor = null;
  refreshPanels();
  return ok(t("issue_done", {
    quantity: issue.quantity, unit: issue.unit, item: issue.item, lot: issue.lot || "–", work_order: issue.work_order, sequence: issue.operation,
  }));
}

async function issueLot(item, lot, quantity) {
  if (!state.operation) return refuse(t("scan_operation_first"));
  // Online only, like start and pause: an issue may need a supervisor there and then.
  const body = { client_id: uuid4(), work_order: state.operation.work_order, operation: state.operation.sequence, item, lot, ...operatorFields() };
  if (quantity !== null) body.quantity = quantity;
  return issueAnswer(await call("POST", config.urls.issue, body));
}

async function approveIssue(badge) {
  const result = await call("POST", config.urls.issue_approve, { issue: approvalFor, badge });
  if (!result.network && !(result.error && result.error.code === "not_a_supervisor")) approvalFor = null;
  return issueAnswer(result);
}

async function onlineAction(url, body, message) {
  const result = await call("POST", url, body);
  if (result.network) {
    setOnline(false);
    refuse(t("offline_needed"));
    return false;
  }
  setOnline(true);
  if (result.error) {
    refuse(result.error.message);
    return false;
  }
  state.operation = result.data;
  await rememberOperation(result.data);
  await saveState();
  render();
  refreshPanels();
  ok(message);
  return true;
}

async function report(final) {
  const { operation, values } = state;
  if (!operation) return refuse(t("scan_operation_first"));
  const good = values.good || "0";
  const scrap = values.scrap || "0";
  const rework = values.rework || "0";
  if ([good, scrap, rework].every((quantity) => Number(quantity) === 0)) return refuse(t("nothing_to_report"));
  if (Number(scrap) > 0 || Number(rework) > 0) {
    const reason = config.reasons[values.reason];
    if (!values.reason) return refuseReason(t("reason_missing", { quantity: quantityText(0, scrap, rework) }), scrap, rework);
    if (reason && !["scrap", "rework"].includes(reason.kind)) {
      return refuseReason(t("reason_kind_mismatch", { code: values.reason, kind: reason.kind_label }), scrap, rework);
    }
  }
  // The client_id is made now, when the operator confirms; every resend carries the same one.
  const body = {
    client_id: uuid4(),
    work_order: operation.work_order,
    operation: operation.sequence,
    good_qty: good,
    scrap_qty: scrap,
    rework_qty: rework,
    reason_code: values.reason,
    lots: values.lots,
    final,
    confirmed_at: new Date().toISOString(),
    ...operatorFields(),
  };
  outcomes.set(body.client_id, null);
  await store.add("outbox", { body, live: true });
  // Known to be offline: keep it at once rather than make the operator wait for a timeout.
  if (navigator.onLine && Date.now() - failedAt >= RETRY_EVERY_MS) {
    say("info", t("sending"));
    // A drain already running may have finished its round just before this report was kept.
    if ((await flush()) === "empty" && outcomes.get(body.client_id) === null) await flush();
  }
  const outcome = outcomes.get(body.client_id);
  outcomes.delete(body.client_id);
  const quantity = quantityText(good, scrap, rework);
  if (outcome && outcome.refused) {
    await renderQueues();
    if (outcome.refused.code === "inspection_due") return offerInspection(outcome.refused);
    return refuse(outcome.refused.message); // the entered values stay, to correct
  }
  state.values = emptyValues();
  if (outcome && outcome.sent) {
    if (outcome.sent.operation) state.operation = outcome.sent.operation;
    else if (final) state.operation = null;
    await saveState();
    render();
    loadMyReports();
    return ok(t(final ? "reported_final" : "reported", { quantity, work_order: body.work_order, sequence: body.operation }));
  }
  await saveState();
  render();
  await renderQueues();
  return say("warn", t("kept_offline"));
}

const OFFERED_REASONS = 6;

/** Refuse a report for its reason: offer the reasons that fit and the ways out (no scrap, no rework, clear), and unfold the list. */
function refuseReason(message, scrap, rework) {
  const kinds = [Number(scrap) > 0 && "scrap", Number(rework) > 0 && "rework"].filter(Boolean);
  const offers = Object.entries(config.reasons)
    .filter(([, reason]) => kinds.includes(reason.kind))
    .slice(0, OFFERED_REASONS)
    .map(([code, reason]) => ({ label: `${code} ${reason.name}`, scan: `RC:${code}` }));
  if (Number(scrap) > 0) offers.push({ label: t("offer_no_scrap"), scan: "SCRAP:0" });
  if (Number(rework) > 0) offers.push({ label: t("offer_no_rework"), scan: "REWORK:0" });
  offers.push({ label: t("offer_clear"), key: "clear" });
  const list = document.querySelector("details.reasons");
  if (list) list.open = true;
  return refuse(message, offers);
}

// --- andon: ACT:ANDON offers the andon reasons (RC:<code>, printed on the station sheet), or the kinds of
// call when the plant has no andon reasons; ANDON:<kind>[:<severity>] raises one of a kind directly ----------

function offerAndon() {
  const reasons = Object.entries(config.reasons).filter(([, reason]) => reason.kind === "andon");
  if (reasons.length) {
    return say("warn", t("andon_which_reason"), reasons.map(([code, reason]) => ({ label: `${code} ${reason.name}`, scan: `RC:${code}` })));
  }
  const offers = ANDON_KINDS.map((kind) => ({ label: t(`andon_kind.${kind}`), scan: `ANDON:${kind}` }));
  return say("warn", t("andon_which"), offers);
}

async function raiseAndon(kind, severity, reasonCode = "") {
  const body = { severity, client_id: uuid4(), ...operatorFields() };
  if (kind) body.kind = kind;
  if (reasonCode) body.reason_code = reasonCode;
  if (state.operation) body.work_order = state.operation.work_order;
  const result = await call("POST", config.urls.andon, body);
  if (result.network) return refuse(t("offline_needed"));
  if (result.error) return refuse(result.error.message);
  refreshPanels();
  const what = reasonCode ? `${reasonCode} ${config.reasons[reasonCode].name}` : t(`andon_kind.${kind}`);
  return ok(t("andon_raised", { kind: what, work_center: result.data.work_center }));
}

async function clearEntry() {
  state.values = emptyValues();
  await saveState();
  render();
  return ok(t("cleared"));
}

async function act(action) {
  if (action === "LOGOUT") {
    state.operator = null;
    state.operation = null;
    state.values = emptyValues();
    await saveState();
    render();
    loadMyReports();
    return ok(t("signed_out"));
  }
  if (action === "ANDON") return offerAndon();
  if (!state.operation) return refuse(t("scan_operation_first"));
  const target = { work_order: state.operation.work_order, operation: state.operation.sequence, ...operatorFields() };
  if (action === "START") {
    return onlineAction(config.urls.start, target, t("started", { work_order: target.work_order, sequence: target.operation }));
  }
  if (action === "CLOCKOFF") {
    return onlineAction(config.urls.clock_off, target, t("clocked_off", { work_order: target.work_order, sequence: target.operation }));
  }
  if (action === "PAUSE") {
    const paused = await onlineAction(
      config.urls.pause,
      { ...target, reason_code: state.values.pauseReason },
      t("paused", { work_order: target.work_order, sequence: target.operation }),
    );
    if (paused) {
      state.values.pauseReason = "";
      await saveState();
      render();
    }
    return paused;
  }
  return report(action === "FINISH");
}

async function handleScan(raw, origin = {}) {
  const parsed = parseScan(raw, { actions: config.actions });
  if (state.pinFor) {
    if (parsed.kind === "digits") return signIn(state.pinFor, parsed.text);
    state.pinFor = null;
    setPinMode(false);
  }
  if (parsed.kind === "error") return refuse(t(`error.${parsed.code}`, parsed.params));
  const corrected = correctionScan(parsed); // a correction waiting for its reason or a supervisor's badge
  if (corrected !== undefined) return corrected;
  if (approvalFor) {
    if (parsed.kind === "badge") return approveIssue(parsed.badge);
    approvalFor = null; // any other scan goes on; the issue keeps waiting for a supervisor's decision
  }
  if (parsed.kind === "badge") return beginSignIn(parsed.badge);
  if (!state.operator) {
    // Nobody signed in: a bare entry is a badge typed by hand.
    if (parsed.kind === "plain" || parsed.kind === "digits") return beginSignIn(parsed.text);
    return refuse(t("scan_badge_first"));
  }
  switch (parsed.kind) {
    case "plain":
      return refuse(t("error.unknown_code", { code: parsed.text }));
    case "operation":
      return openOperation(parsed.workOrder, parsed.sequence);
    case "digits":
    case "quantity": {
      if (!state.operation) return refuse(t("scan_operation_first"));
      const field = parsed.kind === "digits" ? "good" : parsed.field;
      return setValue(field, parsed.value, t(`${field}_set`, { value: parsed.value }));
    }
    case "reason":
      return setReason(parsed.code, origin.promptState);
    case "lot":
      return addLot(parsed.lot, parsed.gtin);
    case "issue":
      return issueLot(parsed.item, parsed.lot, parsed.quantity);
    case "action":
      return act(parsed.action);
    case "andon":
      return raiseAndon(parsed.andonKind, parsed.severity);
    case "inspection":
      return recordInspection(parsed);
    default:
      return refuse(t("error.unknown_code", { code: raw }));
  }
}

// --- wiring ---------------------------------------------------------------------------------

let busy = Promise.resolve();

function enqueue(raw, origin) {
  // Scans are handled one after another, in the order they came, however fast the scanner types.
  // A function (the keypad's Clear) waits its turn the same way.
  busy = busy.then(() => (typeof raw === "function" ? raw() : handleScan(raw, origin))).catch((error) => refuse(t("unexpected", { error: String(error) })));
  return busy;
}

$("scan-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const raw = scan.value;
  scan.value = "";
  enqueue(raw);
});

const KEYPAD_FIELDS = { good: "QTY", scrap: "SCRAP", rework: "REWORK" };

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  const { scan: code, key, ack, state: promptState } = button.dataset;
  const field = entryField();
  if (button.dataset.inspect) selectInspection(button.dataset.inspect);
  else if (code) enqueue(code, { promptState });
  else if (key === "enter") (field === scan ? $("scan-form") : $("inspection-form")).requestSubmit();
  else if (key === "back") field.value = field.value.slice(0, -1);
  else if (key === "clear") {
    field.value = "";
    enqueue(clearEntry);
  }
  else if (key in KEYPAD_FIELDS) {
    const raw = field.value.trim();
    field.value = "";
    enqueue(`${KEYPAD_FIELDS[key]}:${raw}`);
  } else if (key === "keyboard") scan.inputMode = scan.inputMode === "none" ? "text" : "none";
  else if (key === "sign") field.value = field.value.startsWith("-") ? field.value.slice(1) : `-${field.value}`;
  else if (key) field.value += key;
  else if (ack) store.delete("refused", ack).then(renderQueues);
  focusScan();
});

scan.addEventListener("blur", () => setTimeout(focusScan, 0));
$("inspection-value").addEventListener("blur", () => setTimeout(focusScan, 0));
// What a gauge (or a person) types into the value field, then Enter: a measured value; anything else is a scan as usual.
$("inspection-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const field = $("inspection-value");
  const raw = field.value.trim();
  field.value = "";
  enqueue(normalValue(raw) !== null ? `VAL:${raw}` : raw);
});
document.addEventListener("visibilitychange", focusScan);
document.body.addEventListener("htmx:afterSwap", (event) => {
  if (event.target && event.target.id === "queue") keepInstructionsOffline(state.operation);
  markQueue();
  focusScan();
});
window.addEventListener("online", () => flush());

async function start() {
  setupMyReports({
    call, say, t, sequenceText, config, refreshPanels, enqueue,
    operator: () => state.operator,
    operatorFields,
  });
  store = await Store.open();
  const saved = await store.get("kv", "state");
  if (saved) Object.assign(state, { operator: saved.operator, operation: saved.operation, values: { ...emptyValues(), ...saved.values } });
  render();
  greet();
  await renderQueues();
  setOnline(navigator.onLine);
  document.body.dataset.ready = "true";
  focusScan();
  flush();
  loadMyReports();
  setInterval(loadMyReports, MY_REPORTS_EVERY_MS);
  setInterval(async () => {
    if ((await store.count("outbox")) > 0) flush();
  }, RETRY_EVERY_MS);
  if ("serviceWorker" in navigator) {
    try {
      await navigator.serviceWorker.register(config.urls.service_worker, { scope: config.urls.station });
      await navigator.serviceWorker.ready;
      document.body.dataset.offlineReady = "true";
      await keepInstructionsOffline(state.operation);
    } catch {
      // Not https (nor localhost): the station works, but cannot open without the server.
    }
  }
}

/** After a reload: say who is signed in and what is open, as the header shows it (the page says "Scan your badge"). */
function greet() {
  const { operator, operation } = state;
  if (!operator) return;
  const who = { name: operator.name || operator.badge, badge: operator.badge };
  if (operation) say("info", t("resumed_operation", { ...who, work_order: operation.work_order, sequence: operation.sequence }));
  else say("info", t("resumed", who));
}

start();

// --- output labels: a report on an order's last operation offers the label of its lot or serials ---

function showOutputLabels(output) {
  const links = $("output-label-links");
  links.replaceChildren();
  $("output-labels").hidden = !output;
  if (!output) return;
  const codes = output.serials.length ? output.serials : [output.lot];
  output.label_urls.forEach((url, index) => {
    const anchor = document.createElement("a");
    anchor.href = `${url}?lang=${encodeURIComponent(config.language)}`;
    anchor.target = "_blank";
    anchor.textContent = codes[index];
    links.append(anchor, " ");
  });
}

// --- inspections: what is due next, and VAL:<number>, PASS, FAIL:<defect code> or a typed value ---

function inspections() {
  return state.operation && Array.isArray(state.operation.inspections) ? state.operation.inspections : [];
}

/** The characteristic the station asks for: the one picked (by a tap or a refusal), else the first due now, else the next. */
function currentInspection() {
  const rows = inspections();
  return (
    rows.find((row) => row.code === state.inspectionTarget) ||
    rows.find((row) => row.due_now && row.mandatory) ||
    rows.find((row) => row.due_now) ||
    rows.find((row) => row.sample_no && row.mandatory) ||
    null
  );
}

/** Whether a measurement is asked for now, so what is typed is a measured value: due now, picked, or the first piece. */
function measuring() {
  const row = currentInspection();
  if (!row || row.kind !== "measured" || !state.operator) return false;
  if (row.code === state.inspectionTarget) return true; // picked: a sample beyond the plan is welcome too
  if (!row.sample_no) return false;
  const good = Number(state.operation.good || 0);
  return row.due_now || (row.due_at_good !== null && Number(row.due_at_good) <= good + 1);
}

function specText(row) {
  if (row.kind !== "measured") return "";
  return t("inspection_spec", { nominal: row.nominal ?? "–", lower: row.lower_limit ?? "–", upper: row.upper_limit ?? "–", unit: row.unit || "" });
}

function promptText(row) {
  const what = { code: row.code, name: row.name, sample: row.sample_no };
  const how = row.kind === "measured" ? t("inspection_measured_how") : t("inspection_attribute_how");
  return [t(row.due_now ? "inspection_due_now" : "inspection_next", what), specText(row), `(${row.reason})`, how].filter(Boolean).join(" ");
}

function renderInspection(operation) {
  const rows = operation && Array.isArray(operation.inspections) ? operation.inspections : [];
  const panel = $("inspection");
  panel.hidden = rows.length === 0;
  if (!rows.length) {
    $("inspection-last").hidden = true;
    return;
  }
  const current = currentInspection();
  panel.dataset.due = current && current.due_now ? "true" : "false";
  $("inspection-prompt").textContent = current ? promptText(current) : t("inspection_all_passed");
  $("inspection-form").hidden = !(current && current.kind === "measured" && (current.sample_no || current.code === state.inspectionTarget));
  $("inspection-list").replaceChildren(
    ...rows.map((row) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.inspect = row.code;
      button.dataset.due = row.due_now ? "true" : "false";
      if (current && row.code === current.code) button.setAttribute("aria-current", "true");
      const status = document.createElement("span");
      status.className = "state";
      status.textContent = row.due_now ? t("inspection_state_due") : row.sample_no ? t("inspection_state_next", { sample: row.sample_no }) : t("inspection_state_done");
      button.append(`${row.code} ${row.name} `, status, specText(row) ? ` · ${specText(row)}` : "");
      item.append(button);
      return item;
    }),
  );
}

function selectInspection(code) {
  const row = inspections().find((candidate) => candidate.code === code);
  if (!row) return;
  state.inspectionTarget = code;
  render();
  say("info", t("inspection_selected", { code: row.code, name: row.name }), row.kind === "measured" ? [] : attributeOffers());
}

function attributeOffers() {
  const defects = Object.entries(config.reasons).filter(([, reason]) => reason.kind === "defect");
  return [
    { label: t("offer_pass"), scan: "PASS" },
    ...defects.slice(0, OFFERED_REASONS).map(([code, reason]) => ({ label: `${t("offer_fail")} ${code} ${reason.name}`, scan: `FAIL:${code}` })),
  ];
}

/** A report refused for a due inspection: say so, and offer that check at once. */
function offerInspection(error) {
  const code = error.fields && error.fields.characteristic;
  const row = inspections().find((candidate) => candidate.code === code);
  if (!row) return refuse(error.message);
  state.inspectionTarget = code;
  render();
  const offers = row.kind === "measured" ? [{ label: t("offer_measure", { code }), inspect: code }] : attributeOffers();
  refuse(`${error.message} ${promptText(row)}`, offers);
  focusScan();
  return undefined;
}

async function recordInspection(parsed) {
  if (!state.operation) return refuse(t("scan_operation_first"));
  const rows = inspections();
  if (!rows.length) return refuse(t("inspection_none"));
  const kind = parsed.value !== undefined ? "measured" : "attribute";
  const current = currentInspection();
  const target =
    (current && current.kind === kind ? current : null) ||
    rows.find((row) => row.kind === kind && row.due_now) ||
    rows.find((row) => row.kind === kind && row.sample_no) ||
    rows.find((row) => row.kind === kind);
  if (!target) return refuse(t(kind === "measured" ? "inspection_no_measured" : "inspection_no_attribute"));
  const body = { client_id: uuid4(), work_order: state.operation.work_order, operation: state.operation.sequence, characteristic: target.code, ...operatorFields() };
  if (kind === "measured") body.value = parsed.value;
  else {
    body.passed = parsed.passed;
    if (parsed.defect) body.defect_code = parsed.defect;
  }
  const result = await call("POST", config.urls.inspection, body);
  if (result.network) {
    setOnline(false);
    return refuse(t("offline_needed"));
  }
  setOnline(true);
  if (result.error) return refuse(result.error.message);
  const { data } = result;
  state.inspectionTarget = null;
  state.operation = data.operation;
  await rememberOperation(data.operation);
  await saveState();
  render();
  const last = $("inspection-last");
  last.hidden = false;
  last.dataset.passed = data.result.passed ? "true" : "false";
  last.dataset.ncr = data.nonconformance ? String(data.nonconformance.id) : "";
  last.textContent = data.message;
  refreshPanels();
  return say(data.result.passed ? "ok" : "refused", data.message);
}
