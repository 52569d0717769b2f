"""The one face every document is set in: reportlab's built-in CID font STSong-Light (Adobe-GB1).

It needs no font file: the PDF names the face and its character collection, and the reader
(pdftoppm/poppler, pdfium, Acrobat, a printer driver) sets the text in its own Simplified Chinese
face. It covers Latin as well as Chinese, so a Chinese employee name on an English sheet prints too.
Text is written as UCS-2 codes (``UniGB-UCS2-H``), so it can also be searched and copied.
"""

from __future__ import annotations

import functools

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

FONT = "STSong-Light"


@functools.cache
def register_font() -> str:
    """Register the CJK face with reportlab once per process and return its name."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT
