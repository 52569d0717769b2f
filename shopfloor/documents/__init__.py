"""Printable documents: the work-order traveler, the station sheet and the operators' badge cards.

Each is a plain function that returns the bytes of a PDF, labelled in the language asked for
and set in an embedded CJK font; the barcodes are Code 128 holding the station's scan codes
(``barcodes``). Views that serve them are thin: call the function, answer application/pdf.
"""

from shopfloor.documents.badges import badge_cards_pdf
from shopfloor.documents.station_sheet import station_sheet_pdf
from shopfloor.documents.traveler import traveler_pdf

__all__ = ["badge_cards_pdf", "station_sheet_pdf", "traveler_pdf"]
