// The signed-in operator's reports of this shift, and correcting the last one: tap Correct, give a reason
// (a tap, or a scanned RC:<reason>), and it is reversed through the server's one reversal path. Past the
// setting's minutes the server asks for a supervisor, whose badge scan approves it.

const $ = (id) => document.getElementById(id);
const REASONS = ["correction_reason.quantity", "correction_reason.operation", "correction_reason.twice"];

let station = null; // what station.js lends: {call, say, t, operator, operatorFields, enqueue, refreshPanels, sequenceText, config}
let correction = null; // {id, reason, awaitingSupervisor}

export function setupMyReports(api) {
  station = api;
}

function quantity(row) {
  const { t } = station;
  const parts = [t("quantity_good", { value: row.good })];
  if (Number(row.scrap)) parts.push(t("quantity_scrap", { value: row.scrap }));
  if (Number(row.rework)) parts.push(t("quantity_rework", { value: row.rework }));
  return parts.join(" · ");
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

export function renderMyReports(data) {
  const { t, sequenceText } = station;
  const section = $("my-reports");
  if (!data) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  $("my-reports-since").textContent = t("since_time", { time: data.since });
  $("my-reports-empty").hidden = data.rows.length > 0;
  $("my-reports-rows").replaceChildren(
    ...data.rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.report = row.id;
      tr.dataset.erpState = row.erp_state;
      if (row.reversed) tr.dataset.reversed = "true";
      tr.append(
        cell(row.time),
        cell(`${row.work_order} / ${sequenceText(row.sequence)} ${row.operation}${row.final ? " ✔" : ""}`),
        cell(quantity(row)),
        cell(row.reversed ? t("report_reversed") : row.erp_label || "–"),
      );
      const action = document.createElement("td");
      if (row.correctable) {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.correct = row.id;
        button.textContent = row.needs_supervisor ? t("correct_with_supervisor") : t("correct");
        action.append(button);
      }
      tr.append(action);
      return tr;
    }),
  );
}

// How many times the reports were asked for: only the latest ask's answer is shown, as answers to
// asks close together (a report, then a sign-in) may come back in either order.
let asked = 0;

/** Ask the server for the operator's reports (after a sign-in, a report, a correction, and now and then). */
export async function loadMyReports() {
  if (!station) return;
  const ask = ++asked;
  const operator = station.operator();
  if (!operator) {
    correction = null;
    return renderMyReports(null);
  }
  const result = await station.call("POST", station.config.urls.my_reports, station.operatorFields());
  if (ask === asked && result.data) renderMyReports(result.data);
}

function begin(id) {
  correction = { id, reason: "", awaitingSupervisor: false };
  const offers = REASONS.map((key) => ({ label: station.t(key), correctReason: key }));
  offers.push({ label: station.t("correction_cancel"), correctReason: "cancel" });
  return station.say("warn", station.t("correction_why"), offers);
}

async function send(supervisorBadge = "") {
  const { t, say } = station;
  const body = { confirmation: correction.id, reason: correction.reason, supervisor_badge: supervisorBadge, ...station.operatorFields() };
  const result = await station.call("POST", station.config.urls.correct, body);
  if (result.network) return say("refused", t("offline_needed"));
  if (result.error) {
    if (result.error.code === "correction_needs_supervisor" || (supervisorBadge && result.error.code === "not_a_supervisor")) {
      correction.awaitingSupervisor = true;
      return say("warn", result.error.message, [{ label: t("correction_cancel"), correctReason: "cancel" }]);
    }
    correction = null;
    return say("refused", result.error.message);
  }
  correction = null;
  renderMyReports(result.data.reports);
  station.refreshPanels();
  const reversal = result.data.reversal;
  return say("ok", t("correction_done", { work_order: reversal.work_order, sequence: reversal.operation }));
}

/** A scan while a correction waits: its reason (RC:<code>) or a supervisor's badge. Answers undefined when it is not for us. */
export function correctionScan(parsed) {
  if (!correction) return undefined;
  if (correction.awaitingSupervisor && parsed.kind === "badge") return send(parsed.badge);
  if (!correction.awaitingSupervisor && !correction.reason && parsed.kind === "reason") {
    const reason = station.config.reasons[parsed.code];
    correction.reason = reason ? `${parsed.code} ${reason.name}` : parsed.code;
    return send();
  }
  correction = null; // any other scan goes on as usual; the report stays as it was
  return undefined;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button || !station) return;
  if (button.dataset.correct) station.enqueue(() => begin(button.dataset.correct));
  else if (button.dataset.correctReason === "cancel") {
    correction = null;
    station.enqueue(() => station.say("info", station.t("correction_cancelled")));
  } else if (button.dataset.correctReason && correction) {
    const key = button.dataset.correctReason;
    station.enqueue(() => {
      if (!correction) return undefined;
      correction.reason = station.t(key);
      return send();
    });
  }
});
