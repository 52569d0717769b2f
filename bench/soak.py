"""Traffic for a running demo plant (``make run``), for as long as asked: what a soak test needs.

Reads the API tokens the demo printed (``--plant-log``, the output of ``make run``), then, until
``--minutes`` are up, reports small quantities on the demo's orders the way a station and a
gateway do (each report sent twice: the resend must answer 200 with the original), reads an
order, the sync health and the message list. Every ``--issue-every`` rounds it scans a demo lot
(``--lots``) into an open operation of the work center that consumes that item, sent twice like a
report (the resend answers the original: 200, or 202 again while an over-issue awaits a
supervisor), then reads the lot and traces it forward. Every answer's status is counted; any 5xx
is printed at once and fails the run. At the end it waits for the outbox to drain and checks the
simulated ERP's ledger (``--ledger``): no key booked twice.

    python bench/soak.py --base http://127.0.0.1:8000 --plant-log /tmp/plant.log \\
        --ledger var/erp-simulator-ledger.jsonl --minutes 30

Loopback only: ``--base`` must name 127.0.0.1 or localhost.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import re
import sys
import time
import urllib.parse
import uuid

import requests

TOKEN_LINE = re.compile(r"^\s+(\w+)\s+(\w+)\s+([0-9a-f]{40})\s*$")


def tokens_from(log: str) -> dict[str, str]:
    found = {}
    with open(log, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            match = TOKEN_LINE.match(line)
            if match:
                found[match.group(1)] = match.group(3)
    return found


class Client:
    def __init__(self, base: str, token: str, counts: collections.Counter) -> None:
        self.base, self.counts = base.rstrip("/"), counts
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        response = self.session.request(method, f"{self.base}{path}", json=body, timeout=30)
        name = f"{method} {response.status_code}"
        if 400 <= response.status_code < 500 and method == "POST":  # a refusal: say which
            try:
                name += f" {(response.json().get('error') or {}).get('code', '')}"
            except ValueError:
                pass
        self.counts[name] += 1
        if response.status_code >= 500:
            print(f"5xx: {method} {path} -> {response.status_code} {response.text[:300]}", flush=True)
        return response


def open_operations(client: Client, orders: list[str], work_center: str, *, components: dict | None = None) -> list[tuple[str, int]]:
    """The demo orders' operations at ``work_center`` that still take reports; ``components``, if
    given, gets the items each of them consumes by scan, by (order, sequence)."""
    found = []
    for number in orders:
        response = client.call("GET", f"/api/v1/work-orders/{number}")
        if response.status_code != 200:
            continue
        order = response.json()
        if order.get("status") not in {"released", "in_progress"}:
            continue
        supplied = float(order.get("quantity") or 0)  # what the first operation may take; then what the one before made
        for operation in sorted(order.get("operations", []), key=lambda operation: operation["sequence"]):
            left = supplied - float(operation.get("good_qty") or 0) - float(operation.get("scrap_qty") or 0)
            supplied = float(operation.get("good_qty") or 0)
            if left < 1:  # a report would be refused (quantity_exceeds_available): nothing to make here yet
                continue
            if operation.get("work_center") == work_center and operation.get("status") in {"released", "in_progress"}:
                found.append((number, operation["sequence"]))
                if components is not None:
                    components[(number, operation["sequence"])] = [
                        line["item"] for line in order.get("components", [])
                        if line.get("operation") == operation["sequence"] and not line.get("backflush")
                    ]
    return found


def error_code(response: requests.Response) -> str:
    try:
        return (response.json().get("error") or {}).get("code", "")
    except ValueError:
        return ""


def record_due_inspection(station: Client, number: str, sequence: int, refusal: requests.Response, badge: str, station_code: str) -> int:
    """Post a passing result for the characteristic and sample a refusal names (a measured one at its
    nominal value). Returns 1 if a result was recorded."""
    fields = (refusal.json().get("error") or {}).get("fields") or {}
    code = fields.get("characteristic")
    plan = station.call("GET", f"/api/v1/work-orders/{number}/inspections")
    if not code or plan.status_code != 200:
        return 0
    characteristic = next(
        (item for operation in plan.json().get("operations", []) if operation.get("sequence") == sequence
         for item in operation.get("characteristics", []) if item.get("code") == code),
        None,
    )
    if characteristic is None:
        return 0
    body = {
        "client_id": str(uuid.uuid4()), "work_order": number, "operation": sequence, "characteristic": code,
        "inspector_badge": badge,
    }
    if fields.get("serial"):
        body["serial"] = fields["serial"]
    elif fields.get("sample_no"):
        body["sample_no"] = fields["sample_no"]
    if characteristic.get("kind") == "measured" and characteristic.get("nominal") is not None:
        body["value"] = characteristic["nominal"]
    else:
        body["passed"] = True
    return int(station.call("POST", "/api/v1/inspections", body).status_code == 201)


def issue_material(station: Client, erp: Client, targets: list[tuple[str, int]], components: dict, lots: dict[str, str],
                   args: argparse.Namespace, turn: int) -> tuple[int, int]:
    """Scan a demo lot into one of the open operations that consumes its item (taking turns), send it
    again, read the lot and trace it forward. Returns (issues recorded, resends answered with the original)."""
    choices = [(number, sequence, item) for number, sequence in targets for item in components.get((number, sequence), []) if item in lots]
    if not choices:
        return 0, 0
    number, sequence, item = choices[turn % len(choices)]
    body = {
        "client_id": str(uuid.uuid4()), "work_order": number, "operation": sequence, "item": item, "lot": lots[item],
        "quantity": args.issue_quantity, "operator_badge": args.badge, "station": args.station,
    }
    first = station.call("POST", "/api/v1/material-issues", body)
    recorded = matching = 0
    if first.status_code in {201, 202}:  # 202: an over-issue now waits for a supervisor; recorded all the same
        recorded = 1
        replay = station.call("POST", "/api/v1/material-issues", body)
        matching = replay.status_code in {200, 202} and replay.json().get("id") == first.json().get("id")
    lot = urllib.parse.quote(lots[item], safe="")
    erp.call("GET", f"/api/v1/lots/{urllib.parse.quote(item, safe='')}/{lot}")
    erp.call("GET", f"/api/v1/trace?code={lot}&item={urllib.parse.quote(item, safe='')}&direction=forward")
    return recorded, matching


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--plant-log", required=True)
    parser.add_argument("--ledger", default="var/erp-simulator-ledger.jsonl")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--orders", default="WO-1001..WO-1030", help="a range of the demo's order numbers")
    parser.add_argument("--badge", default="E1001")
    parser.add_argument("--station", default="WC-CUT-1")
    parser.add_argument("--work-center", default="WC-CUT")
    parser.add_argument(
        "--lots", default="RM-0001:RM1-2611-A,RM-0006:AL-2611-07",
        help="the demo lots to issue, item:lot, comma-separated (the demo's steel and aluminium, cut at WC-CUT)",
    )
    parser.add_argument("--issue-every", type=int, default=3, help="issue a lot every this many rounds (0: never)")
    parser.add_argument("--issue-quantity", type=float, default=0.5)
    parser.add_argument(
        "--new-order-item", default="SA-1100",
        help="when the demo orders at the work center are used up, the ERP pushes a new order of this item "
             "(its routing starts at the work center) and the planner releases it, so the traffic goes on",
    )
    args = parser.parse_args()
    if urllib.parse.urlsplit(args.base).hostname not in {"127.0.0.1", "localhost"}:
        parser.error("--base must be a loopback address")
    tokens = tokens_from(args.plant_log)
    if not {"station", "erp"} <= tokens.keys():
        parser.error(f"no demo tokens for station and erp in {args.plant_log} (a fresh demo prints them once)")
    first, last = args.orders.split("..")
    prefix = first.rstrip("0123456789")
    orders = [f"{prefix}{n}" for n in range(int(first[len(prefix):]), int(last[len(prefix):]) + 1)]
    lots = dict(pair.split(":", 1) for pair in args.lots.split(",") if pair)

    counts: collections.Counter = collections.Counter()
    station, erp = Client(args.base, tokens["station"], counts), Client(args.base, tokens["erp"], counts)
    planner = Client(args.base, tokens["planner"], counts) if "planner" in tokens else None
    deadline = time.monotonic() + args.minutes * 60
    reports = replays_matching = rounds = issues = issue_replays_matching = inspections = new_orders = 0
    while time.monotonic() < deadline:
        rounds += 1
        round_reports = 0
        components: dict = {}
        targets = open_operations(erp, orders, args.work_center, components=components)
        if args.issue_every and rounds % args.issue_every == 0:
            recorded, matching = issue_material(station, erp, targets, components, lots, args, rounds // args.issue_every)
            issues, issue_replays_matching = issues + recorded, issue_replays_matching + matching
        if not targets:
            print("no open operation left at", args.work_center, flush=True)
            time.sleep(5)
        for number, sequence in targets:
            if time.monotonic() >= deadline:
                break
            body = {
                "client_id": str(uuid.uuid4()), "work_order": number, "operation": sequence, "good_qty": 1,
                "operator_badge": args.badge, "station": args.station,
            }
            first_answer = station.call("POST", "/api/v1/confirmations", body)
            if first_answer.status_code == 422 and error_code(first_answer) == "inspection_due":
                # As an operator would: record the passing result the station asks for, then report again.
                inspections += record_due_inspection(station, number, sequence, first_answer, args.badge, args.station)
                first_answer = station.call("POST", "/api/v1/confirmations", body)
            if first_answer.status_code == 201:
                round_reports += 1
                reports += 1
                replay = station.call("POST", "/api/v1/confirmations", body)
                replays_matching += replay.status_code == 200 and replay.json().get("id") == first_answer.json().get("id")
            erp.call("GET", "/api/v1/sync/health")
        erp.call("GET", "/api/v1/sync/messages?state=dead")
        if not round_reports and planner is not None and args.new_order_item:
            new_orders += 1
            number = f"SK{int(time.time()) % 1_000_000:06d}{new_orders:02d}"  # SAP's OrderID takes 12 characters at most
            due = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
            erp.call("PUT", f"/api/v1/work-orders/{number}", {"item": args.new_order_item, "quantity": 500, "due_date": due})
            planner.call("POST", f"/api/v1/work-orders/{number}/release", {})
            orders.append(number)
        print(f"round {rounds}: {reports} reports, {inspections} inspections, {issues} issues, {new_orders} new orders, {dict(counts)}", flush=True)
        time.sleep(1)

    drained = False
    for _ in range(120):
        health = erp.call("GET", "/api/v1/sync/health").json()
        if health.get("pending", 1) == 0 and health.get("retrying", 1) == 0:
            drained = True
            break
        time.sleep(1)
    keys: collections.Counter = collections.Counter()
    try:
        with open(args.ledger, encoding="utf-8") as ledger:
            for line in ledger:
                entry = json.loads(line)
                if entry.get("action") == "post" and entry.get("key"):
                    keys[entry["key"]] += 1
    except FileNotFoundError:
        print("no ledger at", args.ledger)
    booked_twice = sorted(key for key, times in keys.items() if times > 1)
    server_errors = sum(count for name, count in counts.items() if name.split()[1].startswith("5"))
    print(json.dumps({
        "reports": reports, "replays_answered_with_the_original": replays_matching, "inspections": inspections, "new_orders": new_orders,
        "issues": issues, "issue_replays_answered_with_the_original": issue_replays_matching, "statuses": dict(counts),
        "server_errors": server_errors, "outbox_drained": drained, "health": health,
        "ledger_documents": sum(keys.values()), "ledger_keys": len(keys), "booked_twice": booked_twice,
    }, indent=2))
    failed = server_errors or not drained or booked_twice or replays_matching != reports or issue_replays_matching != issues
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
