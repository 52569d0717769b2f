"""The one face every document is set in: WenQuanYi Micro Hei, embedded (as a subset) in each PDF.

It comes from the PyPI package ``paperang-p2-fonts-cjk``, whose ``wqy-microhei.ttc`` is byte for
byte the file of Debian's ``fonts-wqy-microhei`` 0.2.0-beta (Apache-2.0 or GPL-3 with font
exception). It has TrueType outlines, which reportlab's ``TTFont`` needs to embed a font (the
CFF-flavoured Noto Sans CJK / Source Han Sans OTFs cannot be), and it covers Latin as well as
Chinese, so a Chinese employee name on an English sheet prints too. reportlab's built-in
``STSong-Light`` is never used: it is not embedded, and a printer without it shows boxes.
"""

from __future__ import annotations

import functools
import importlib.resources

from django.core.exceptions import ImproperlyConfigured
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "WenQuanYiMicroHei"
FONT_PACKAGE = "paperang_p2_fonts_cjk"
FONT_FILE = "fonts/wqy-microhei.ttc"


@functools.cache
def register_font() -> str:
    """Register the CJK face with reportlab once per process and return its name."""
    try:
        font_file = importlib.resources.files(FONT_PACKAGE).joinpath(FONT_FILE)
    except ModuleNotFoundError as error:
        raise ImproperlyConfigured(
            "The printable documents need the CJK font package: pip install 'paperang-p2-fonts-cjk>=0.1,<0.2'"
        ) from error
    with importlib.resources.as_file(font_file) as path:
        # subfontIndex 0 is the proportional face; 1 is "Micro Hei Mono".
        pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))
    return FONT
