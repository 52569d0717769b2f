"""A B2MML receiver (an ISA-95 integration hub, a MOM or an ERP's B2MML adapter) taking documents by HTTP POST.

- ``POST /b2mml`` with ``Content-Type: application/xml`` (or ``text/xml``): the document is parsed
  (no DTD) and validated against MESA's B2MML V0701 schemas, the same files the MES ships; a body that
  is not XML, not valid or not a document this receiver takes is refused with 400 and the problems,
  line by line (nothing booked). Any other content type: 415.
- ``ProcessOperationsPerformance``: booked once per ``BODID``: a ledger ``post`` whose key is the
  BODID, order = ``OperationsResponse/ID``, operation = ``SegmentResponse/ID``, yield = the Produced
  MaterialActual quantities, scrap and rework from the segment's ScrapQuantity / ReworkQuantity data,
  final from FinalConfirmation; the Consumed rows are issued and the Produced rows with a lot received
  in the stock view, per item and lot.
- ``CancelOperationsPerformance``: ``OperationsPerformance/ID`` names the document to take back: a
  ledger ``cancel`` of it (its stock taken back); an unknown or already cancelled one is refused (422).
- A ``BODID`` processed before is not booked again: answered as the first time (``bodid_dedupe``
  "replay", the default) or 409 ("conflict").
- ``GET /b2mml/<BODID>``: 200 with the acknowledgement that BODID got, 404 when it was never processed
  (the look-up a sender makes before it sends again after a lost answer).
- Answers: 200 with an ``AcknowledgeOperationsPerformance`` echoing what was processed. Faults: a
  locked order is 423, a rejected order 422 with a business text, injected 5xx an HTML error page.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from erp_sync.b2mml.validation import DocumentRefused, b2mml_schema, document_check, local_name
from simulators.erp.base import ErpFlavor, SimRequest, SimResponse, parse_decimal, plain, text_response
from simulators.erp.ledger import CANCEL, POST, Ledger

NS = "{http://www.mesa.org/xml/B2MML}"
PATH = "/b2mml"
XML_TYPES = ("application/xml", "text/xml")
ACCEPTED = ("ProcessOperationsPerformance", "CancelOperationsPerformance")


class B2mmlFlavor(ErpFlavor):
    name = "b2mml"

    def __init__(self, *, ledger: Ledger) -> None:
        super().__init__(ledger=ledger)
        self.bodid_dedupe = "replay"
        b2mml_schema()  # built now, while the simulator starts, not on the first document
        self.reset()

    def reset(self) -> None:
        self.answers: dict[str, bytes] = {}  # BODID → the acknowledgement it got
        self.documents: dict[str, dict[str, Any]] = {}  # OperationsPerformance ID → what it booked
        self.counter = 0
        self.counters = {"b2mml_documents": 0, "b2mml_refused": 0, "b2mml_repeats": 0}

    def flavor_counters(self) -> dict[str, int]:
        return dict(self.counters)

    def config(self) -> dict[str, Any]:
        return {"bodid_dedupe": self.bodid_dedupe}

    def _set_config(self, key: str, value: Any) -> None:
        if value not in ("replay", "conflict"):
            raise ValueError("bodid_dedupe must be replay or conflict")
        self.bodid_dedupe = value

    def unavailable(self, status: int) -> SimResponse:
        html = f"<html><head><title>{status} Error</title></head><body><h1>{status} Service Unavailable</h1></body></html>"
        return SimResponse(status=status, body=html.encode(), content_type="text/html")

    # -- entry point -------------------------------------------------------------------

    def prepare(self, request: SimRequest) -> ET.Element | DocumentRefused | None:
        """The document parsed and validated (slow: not under the simulator's lock), or why it is refused."""
        if request.method != "POST" or not request.body:
            return None
        try:
            return document_check(request.body)
        except DocumentRefused as refused:
            return refused

    def handle(self, request: SimRequest) -> SimResponse:
        if request.method == "GET" and request.path.startswith(PATH + "/"):
            answer = self.answers.get(request.path[len(PATH) + 1:])
            if answer is None:
                return text_response(404, "No document with that BODID was processed here.")
            return SimResponse(200, answer, content_type="application/xml; charset=utf-8")
        if request.path.rstrip("/") != PATH:
            return text_response(404, f"No endpoint {request.path}; documents go to {PATH}.")
        if request.method != "POST":
            return text_response(405, "POST a B2MML document here.", headers=[("Allow", "POST")])
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in XML_TYPES:
            return text_response(415, f"Send application/xml, not {content_type or 'nothing'}.")
        root = request.prepared
        if root is None:
            return text_response(400, "The body is empty: POST a B2MML document.")
        if isinstance(root, DocumentRefused):
            self.counters["b2mml_refused"] += 1
            return text_response(400, "Refused: " + "; ".join(str(problem) for problem in root.problems))
        name = local_name(root.tag)
        if name not in ACCEPTED:
            return text_response(400, f"This receiver takes {' and '.join(ACCEPTED)}, not {name}.")
        bodid = _text(root, "ApplicationArea/BODID")
        if not bodid:
            return text_response(400, "The ApplicationArea has no BODID: nothing to recognise a resend by.")
        if bodid in self.answers:
            self.counters["b2mml_repeats"] += 1
            if self.bodid_dedupe == "conflict":
                return text_response(409, f"BODID {bodid} was processed before.")
            return SimResponse(200, self.answers[bodid], content_type="application/xml; charset=utf-8")
        performance = root.find(f"{NS}DataArea/{NS}OperationsPerformance")
        order = _text(performance, "OperationsResponse/ID")
        if order in request.rejected_orders:
            return text_response(422, f"Order {order} is closed in the ERP: no performance can be booked on it.")
        if request.lock_rolled or order in request.locked_orders:
            return text_response(423, f"Order {order} is being edited by another user; try again later.")
        dropped = request.response_will_drop
        refusal = self._cancel(performance, bodid, dropped) if name == ACCEPTED[1] else self._book(performance, bodid, dropped)
        if refusal:
            return text_response(422, refusal)
        answer = _acknowledgement(root)
        self.answers[bodid] = answer
        self.counters["b2mml_documents"] += 1
        return SimResponse(200, answer, content_type="application/xml; charset=utf-8", committed=True)

    # -- booking -------------------------------------------------------------------------

    def _book(self, performance: ET.Element, bodid: str, dropped: bool) -> str:
        identifier = _text(performance, "ID")
        if identifier in self.documents:
            return f"Operations performance {identifier} was booked before under another BODID."
        response = performance.find(f"{NS}OperationsResponse")
        segment = response.find(f"{NS}SegmentResponse")
        movements: list[dict[str, Any]] = []
        produced = Decimal(0)
        try:
            for material in segment.findall(f"{NS}MaterialActual"):
                use = _text(material, "MaterialUse")
                quantity = parse_decimal(_text(material, "Quantity/QuantityString") or "0")
                item = _text(material, "MaterialDefinitionID")
                lots = [lot.text or "" for lot in material.findall(f"{NS}MaterialLotID")] or [""]
                if use == "Produced":
                    produced += quantity
                for lot in lots:
                    share = quantity if len(lots) == 1 else Decimal(0)
                    movements.append({"use": use, "item": item, "batch": lot, "quantity": plain(share)})
            data = {_text(entry, "ID"): _text(entry, "Value/ValueString") for entry in segment.findall(f"{NS}SegmentData")}
            scrap = parse_decimal(data.get("ScrapQuantity") or "0")
            rework = parse_decimal(data.get("ReworkQuantity") or "0")
        except ValueError as error:
            return f"A quantity is not a number: {error}"
        for movement in movements:
            self._stock(movement, sign=1)
        self.counter += 1
        document = f"OP{self.counter:08d}"
        self.documents[identifier] = {"document": document, "movements": movements, "cancelled": False}
        self.ledger.record(
            action=POST, document=document, document_type="ProcessOperationsPerformance", key=bodid,
            order=_text(response, "ID"), operation=str(int(_text(segment, "ID") or 0)),
            yield_qty=plain(produced), scrap_qty=plain(scrap), rework_qty=plain(rework),
            final=data.get("FinalConfirmation") == "true", response_dropped=dropped,
            details={"movements": [
                {"type": m["use"], "material": m["item"], "batch": m["batch"], "quantity": m["quantity"]} for m in movements
            ]},
        )
        return ""

    def _cancel(self, performance: ET.Element, bodid: str, dropped: bool) -> str:
        identifier = _text(performance, "ID")
        original = self.documents.get(identifier)
        if original is None:
            return f"No operations performance {identifier} was booked here: nothing to cancel."
        if original["cancelled"]:
            return f"Operations performance {identifier} is cancelled already."
        original["cancelled"] = True
        for movement in original["movements"]:
            self._stock(movement, sign=-1)
        self.counter += 1
        response = performance.find(f"{NS}OperationsResponse")
        self.ledger.record(
            action=CANCEL, document=f"CX{self.counter:08d}", document_type="CancelOperationsPerformance", key=bodid,
            order=_text(response, "ID"), operation=str(int(_text(response, "SegmentResponse/ID") or 0)),
            cancels=original["document"], cancels_key=identifier, response_dropped=dropped,
        )
        return ""

    def _stock(self, movement: dict[str, Any], *, sign: int) -> None:
        quantity = Decimal(movement["quantity"]) * sign
        if movement["use"] == "Consumed":
            self.ledger.book(item=movement["item"], batch=movement["batch"], issued=quantity)
        elif movement["use"] == "Produced" and movement["batch"]:
            self.ledger.book(item=movement["item"], batch=movement["batch"], received=quantity)


def _text(element: ET.Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find("/".join(f"{NS}{part}" for part in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


def _acknowledgement(root: ET.Element) -> bytes:
    """``AcknowledgeOperationsPerformance``: the original ApplicationArea, and the performance as processed."""
    acknowledgement = ET.Element(f"{NS}AcknowledgeOperationsPerformance", {"releaseID": root.get("releaseID", "0701")})
    area = ET.SubElement(acknowledgement, f"{NS}ApplicationArea")
    ET.SubElement(ET.SubElement(area, f"{NS}Sender"), f"{NS}LogicalID").text = "b2mml-simulator"
    ET.SubElement(area, f"{NS}CreationDateTime").text = _text(root, "ApplicationArea/CreationDateTime")
    data_area = ET.SubElement(acknowledgement, f"{NS}DataArea")
    acknowledge = ET.SubElement(data_area, f"{NS}Acknowledge")
    original = root.find(f"{NS}ApplicationArea")
    original.tag = f"{NS}OriginalApplicationArea"
    acknowledge.append(original)
    data_area.append(root.find(f"{NS}DataArea/{NS}OperationsPerformance"))
    return ET.tostring(acknowledgement, encoding="utf-8", xml_declaration=True)
