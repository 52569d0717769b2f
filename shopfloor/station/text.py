"""Every sentence the station's script may show, translated here so the script has none of its own.

The page renders this dictionary into a JSON block; ``%(name)s`` placeholders are filled in by
the script. Keys are what station.js and scan.js call things.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def station_text() -> dict[str, str]:
    return {
        # scan parser (static/shopfloor/scan.js)
        "error.empty": _("Nothing was scanned."),
        "error.unreadable": _("The scan holds characters that are not part of any station code. Scan again."),
        "error.unknown_code": _("%(code)s is not a station code."),
        "error.empty_value": _("%(code)s has nothing after the colon."),
        "error.too_long": _("%(code)s is too long for a station code."),
        "error.bad_operation": _("%(code)s is not an operation code; it looks like WO:WO-1001/10."),
        "error.bad_quantity": _("%(code)s is not a quantity: whole numbers or up to three decimals, not negative."),
        "error.unknown_action": _("%(code)s is not an action the station knows."),
        "error.bad_gs1": _("This GS1 code cannot be read; scan the lot label again or scan LOT:<lot>."),
        "error.bad_gtin": _("The GTIN %(gtin)s on this label has a wrong check digit."),
        "error.gs1_no_lot": _("This GS1 code has no lot number (10)."),
        "error.bad_andon": _("%(code)s is not an andon call; it looks like ANDON:equipment or ANDON:quality:critical."),
        "andon_which": _("What do you need? Tap or scan the kind of help."),
        "andon_raised": _("Andon raised at %(work_center)s: %(kind)s. Help is being called; keep the station open."),
        "andon_kind.equipment": _("Machine problem"),
        "andon_kind.material": _("Material missing"),
        "andon_kind.quality": _("Quality problem"),
        "andon_kind.maintenance": _("Maintenance"),
        "andon_kind.help": _("Other help"),
        "error.bad_issue": _("%(code)s is not a lot to issue; it looks like LOT:<item>:<lot> or LOT:<item>:<lot>:<quantity>."),
        # what the station itself refuses
        "scan_badge_first": _("Scan your badge first (EMP:…)."),
        "scan_operation_first": _("Scan the operation on the traveler first (WO:…)."),
        "nothing_to_report": _("Nothing to report: scan a quantity first (QTY:…)."),
        "reason_missing": _("%(quantity)s needs a reason: scan or tap a reason (RC:…), or take the quantity back with SCRAP:0 / REWORK:0 or Clear."),
        "reason_kind_mismatch": _("Reason %(code)s is a %(kind)s reason; scrap and rework need a scrap or rework reason."),
        "reason_unknown": _("Reason code %(code)s does not exist."),
        "no_downtime_waiting": _("No machine is waiting for a downtime reason; %(code)s is a downtime reason."),
        "pin_expected": _("Enter your PIN and press Enter."),
        "offline_needed": _("No connection to the server: this needs it. Reports are kept and sent when the connection returns."),
        "offline_pin": _("No connection to the server: this station checks badges with a PIN, which needs the connection."),
        "not_a_station": _("This tablet is no longer a station. Ask a supervisor; nothing waiting on it is lost."),
        # what went well
        "signed_in": _("Signed in: %(name)s (%(badge)s)."),
        "signed_in_offline": _("Signed in offline as %(badge)s; the badge is checked when reports are sent."),
        "signed_out": _("Signed out."),
        "operation_opened": _("Opened %(work_order)s / %(sequence)s: %(name)s."),
        "operation_opened_offline": _("Opened %(work_order)s / %(sequence)s offline; figures as last seen."),
        "good_set": _("Good quantity %(value)s."),
        "scrap_set": _("Scrap quantity %(value)s."),
        "rework_set": _("Rework quantity %(value)s."),
        "reason_set": _("Reason %(code)s: %(name)s."),
        "pause_reason_set": _("Pause reason %(code)s: %(name)s. Scan ACT:PAUSE to pause."),
        "lot_added": _("Lot %(lot)s recorded for this report."),
        "lot_again": _("Lot %(lot)s is already on this report."),
        "reported": _("Reported %(quantity)s on %(work_order)s / %(sequence)s."),
        "reported_final": _("Final report: %(quantity)s on %(work_order)s / %(sequence)s; the operation is done."),
        "kept_offline": _("No connection: the report is kept on this tablet and sent when the connection returns."),
        "started": _("Operation %(work_order)s / %(sequence)s started."),
        "paused": _("Operation %(work_order)s / %(sequence)s paused."),
        "clocked_off": _("Clocked off %(work_order)s / %(sequence)s; the others on it work on."),
        "clocked_on_nobody": _("nobody"),
        "downtime_answered": _("Reason %(code)s recorded for %(equipment)s."),
        # material issues (LOT:<item>:<lot>[:<quantity>])
        "issue_done": _("Issued %(quantity)s %(unit)s of %(item)s, lot %(lot)s, to %(work_order)s / %(sequence)s."),
        "issue_scan_supervisor": _("Supervisor: scan your badge now to approve. Any other scan leaves it waiting."),
        "cleared": _("Entries cleared."),
        "offer_no_scrap": _("No scrap (SCRAP:0)"),
        "offer_no_rework": _("No rework (REWORK:0)"),
        "offer_clear": _("Clear this report"),
        "resumed": _("%(name)s (%(badge)s) is signed in. Scan the operation on the traveler (WO:…)."),
        "resumed_operation": _("%(name)s (%(badge)s) is signed in; %(work_order)s / %(sequence)s is open. Scan a quantity or an action."),
        "sending": _("Sending…"),
        "sent_later": _("%(count)s kept report(s) sent."),
        "unexpected": _("Something went wrong on this tablet (%(error)s). Scan again; if it repeats, reload the page."),
        # labels the script writes
        "quantity_good": _("%(value)s good"),
        "quantity_scrap": _("%(value)s scrap"),
        "quantity_rework": _("%(value)s rework"),
        "nobody": _("Nobody signed in"),
        "no_operation": _("No operation open"),
        "online": _("Online"),
        "offline": _("Offline"),
        "pending_kept": _("Kept on this tablet, not sent yet"),
        "acknowledge": _("Understood"),
        "refused_at": _("Refused by the server:"),
        "pin_placeholder": _("PIN"),
        "scan_placeholder": _("Scan or type, then Enter"),
    }
