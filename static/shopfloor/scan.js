// What a scan means: the one parser of the station's codes, used online and offline alike.
// The printed codes come from shopfloor/documents/barcodes.py; tests feed its output through here.
//
//   EMP:<badge>   WO:<order>/<sequence>   QTY:<n> (or plain digits)   SCRAP:<n>   REWORK:<n>
//   RC:<reason code>   LOT:<lot>   GS1 with AI (10) lot and (01) GTIN   ACT:<action>
//   LOT:<item>:<lot>[:<quantity>]  (issue that lot to the open operation)
//   ANDON:<kind>[:<severity>]  (call for help: equipment, material, quality, maintenance, help)
//   VAL:<number>  PASS  FAIL:<defect code>  (an inspection result: a measured value, a pass, a fail)
//
// parseScan returns {kind: ...} or {kind: "error", code, params}; the station turns error codes
// into messages in the operator's language.

export const ACTIONS = ["START", "PAUSE", "REPORT", "FINISH", "LOGOUT", "CLOCKOFF", "ANDON"];
export const ANDON_KINDS = ["equipment", "material", "quality", "maintenance", "help"];
export const ANDON_SEVERITIES = ["low", "medium", "high", "critical"];

const GS = "\u001d";
const QUANTITY = /^(\d{1,11})(?:[.,](\d{1,3}))?$/;
// A measured value as a gauge or a person types it: signed, up to six decimals, comma or point.
const MEASURE = /^([+-]?)(\d{1,12})(?:[.,](\d{1,6}))?$/;
const MAX_KEY = 64;
// AIM symbology identifiers a scanner may be set to send first: GS1-128, DataMatrix, QR, DataBar.
const SYMBOLOGY = /^\](C1|d2|Q3|e0|J1)/;

// GS1 application identifiers we read: fixed length, or variable up to a maximum (ended by GS).
const GS1_FIXED = { "00": 18, "01": 14, "02": 14, "11": 6, "12": 6, "13": 6, "15": 6, "16": 6, "17": 6, "20": 2 };
const GS1_VARIABLE = { "10": 20, "21": 20, "22": 20, "30": 8, "37": 8, "240": 30, "241": 30, "250": 30, "251": 30,
  "400": 30, "401": 30, "403": 30, "90": 30, "91": 90, "92": 90, "93": 90, "94": 90, "95": 90, "96": 90, "97": 90,
  "98": 90, "99": 90 };

function error(code, params = {}) {
  return { kind: "error", code, params };
}

export function normalQuantity(text) {
  const match = QUANTITY.exec(text);
  if (!match) return null;
  const whole = match[1].replace(/^0+(?=\d)/, "");
  const fraction = (match[2] || "").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** A measured value in plain decimal notation ("-0.50" → "-0.5"), or null. */
export function normalValue(text) {
  const match = MEASURE.exec(String(text ?? "").trim());
  if (!match) return null;
  const whole = match[2].replace(/^0+(?=\d)/, "");
  const fraction = (match[3] || "").replace(/0+$/, "");
  const number = fraction ? `${whole}.${fraction}` : whole;
  return match[1] === "-" && /[1-9]/.test(number) ? `-${number}` : number;
}

function hasControl(text) {
  return /[\u0000-\u001f\u007f]/.test(text);
}

export function gtinCheckDigitOk(gtin) {
  if (!/^\d{14}$/.test(gtin)) return false;
  let sum = 0;
  for (let i = 0; i < 13; i += 1) sum += Number(gtin[12 - i]) * (i % 2 === 0 ? 3 : 1);
  return (10 - (sum % 10)) % 10 === Number(gtin[13]);
}

function gs1Elements(text) {
  const elements = {};
  if (text.startsWith("(")) {
    const pattern = /\((\d{2,4})\)([^()]*)/y;
    let match;
    while (pattern.lastIndex < text.length && (match = pattern.exec(text))) {
      const [, ai, value] = match;
      const cleaned = value.replaceAll(GS, "");
      if (ai in GS1_FIXED && cleaned.length !== GS1_FIXED[ai]) return null;
      if (ai in GS1_VARIABLE && (!cleaned.length || cleaned.length > GS1_VARIABLE[ai])) return null;
      elements[ai] = cleaned;
    }
    if (pattern.lastIndex !== text.length || !Object.keys(elements).length) return null;
    return elements;
  }
  let rest = text;
  while (rest.length) {
    if (rest.startsWith(GS)) { rest = rest.slice(1); continue; }
    const ai = [2, 3].map((n) => rest.slice(0, n)).find((candidate) => candidate in GS1_FIXED || candidate in GS1_VARIABLE);
    if (!ai) return null;
    if (ai in GS1_FIXED) {
      const value = rest.slice(ai.length, ai.length + GS1_FIXED[ai]);
      if (value.length !== GS1_FIXED[ai]) return null;
      elements[ai] = value;
      rest = rest.slice(ai.length + value.length);
    } else {
      const end = rest.indexOf(GS, ai.length);
      const value = end === -1 ? rest.slice(ai.length) : rest.slice(ai.length, end);
      if (!value.length || value.length > GS1_VARIABLE[ai]) return null;
      elements[ai] = value;
      rest = end === -1 ? "" : rest.slice(end + 1);
    }
  }
  return elements;
}

function looksLikeGs1(text) {
  return SYMBOLOGY.test(text) || text.includes(GS) || /^\(\d{2,4}\)/.test(text) || /^0[012]\d{14}/.test(text);
}

function parseGs1(text) {
  const elements = gs1Elements(text.replace(SYMBOLOGY, ""));
  if (!elements) return error("bad_gs1");
  const gtin = elements["01"] || elements["02"] || "";
  if (gtin && !gtinCheckDigitOk(gtin)) return error("bad_gtin", { gtin });
  const lot = elements["10"];
  if (!lot) return error("gs1_no_lot");
  if (hasControl(lot) || lot.length > 20) return error("bad_gs1");
  return { kind: "lot", lot, gtin };
}

function parseValue(prefix, value, actions) {
  switch (prefix) {
    case "EMP":
      return { kind: "badge", badge: value };
    case "WO": {
      const slash = value.lastIndexOf("/");
      const number = slash > 0 ? value.slice(0, slash) : "";
      const sequence = slash > 0 ? value.slice(slash + 1) : "";
      if (!number || number.length > MAX_KEY || !/^\d{1,4}$/.test(sequence) || Number(sequence) < 1) {
        return error("bad_operation", { code: `WO:${value}` });
      }
      return { kind: "operation", workOrder: number, sequence: Number(sequence) };
    }
    case "QTY":
    case "SCRAP":
    case "REWORK": {
      const quantity = normalQuantity(value);
      if (quantity === null) return error("bad_quantity", { code: `${prefix}:${value}` });
      return { kind: "quantity", field: { QTY: "good", SCRAP: "scrap", REWORK: "rework" }[prefix], value: quantity };
    }
    case "RC":
      return { kind: "reason", code: value };
    case "LOT":
      return value.includes(":") ? parseIssue(value) : { kind: "lot", lot: value, gtin: "" };
    case "ANDON": {
      const [kind, severity = "high"] = value.toLowerCase().split(":");
      if (!ANDON_KINDS.includes(kind) || !ANDON_SEVERITIES.includes(severity)) return error("bad_andon", { code: `ANDON:${value}` });
      return { kind: "andon", andonKind: kind, severity };
    }
    case "VAL": {
      const measured = normalValue(value);
      if (measured === null) return error("bad_value", { code: `VAL:${value}` });
      return { kind: "inspection", value: measured };
    }
    case "FAIL":
      return { kind: "inspection", passed: false, defect: value };
    case "ACT": {
      const action = value.toUpperCase();
      if (!actions.includes(action)) return error("unknown_action", { code: `ACT:${value}` });
      return { kind: "action", action };
    }
    default:
      return null;
  }
}

// LOT:<item>:<lot>[:<quantity>]: a lot to issue; without a quantity the server decides (see the station's help).
function parseIssue(value) {
  const parts = value.split(":").map((part) => part.trim());
  const code = `LOT:${value}`;
  if (parts.length > 3 || !parts[0] || !parts[1] || parts[0].length > MAX_KEY || parts[1].length > MAX_KEY) {
    return error("bad_issue", { code });
  }
  if (parts.length === 2) return { kind: "issue", item: parts[0], lot: parts[1], quantity: null };
  const quantity = normalQuantity(parts[2]);
  if (quantity === null || Number(quantity) === 0) return error("bad_quantity", { code });
  return { kind: "issue", item: parts[0], lot: parts[1], quantity };
}

/**
 * One scan (or one typed entry) as the station understands it.
 * @param {string} raw what the scanner typed before Enter
 * @param {{actions?: string[]}} options the actions the printed sheets carry
 */
export function parseScan(raw, { actions = ACTIONS } = {}) {
  const text = String(raw ?? "").replace(/^[\r\n ]+|[\r\n ]+$/g, "");
  if (!text) return error("empty");
  if (looksLikeGs1(text)) return parseGs1(text);
  if (hasControl(text)) return error("unreadable");
  if (text.toUpperCase() === "PASS") return { kind: "inspection", passed: true };
  if (text.toUpperCase() === "FAIL") return error("empty_value", { code: "FAIL:" });
  const colon = text.indexOf(":");
  if (colon > 0) {
    const prefix = text.slice(0, colon).toUpperCase();
    const value = text.slice(colon + 1).trim();
    if (["EMP", "WO", "QTY", "SCRAP", "REWORK", "RC", "LOT", "ACT", "ANDON", "VAL", "FAIL"].includes(prefix)) {
      if (!value) return error("empty_value", { code: text });
      // An issue names the item and the lot (and perhaps a quantity): two keys' room.
      if (value.length > (prefix === "LOT" ? 2 * MAX_KEY + 16 : MAX_KEY + 5)) return error("too_long", { code: `${text.slice(0, 30)}…` });
      return parseValue(prefix, value, actions);
    }
    return error("unknown_code", { code: text.length > 40 ? `${text.slice(0, 40)}…` : text });
  }
  const quantity = normalQuantity(text);
  if (quantity !== null) return { kind: "digits", text, value: quantity };
  if (text.length > MAX_KEY) return error("too_long", { code: `${text.slice(0, 30)}…` });
  return { kind: "plain", text };
}
