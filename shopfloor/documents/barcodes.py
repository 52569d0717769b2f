"""The scan codes the operator station reads, and how they are printed as Code 128.

A keyboard-wedge scanner types what the barcode holds, then Enter. These builders are the one
place that spells each code, so what the sheets print and what the station parses cannot drift:

    EMP:<badge>                          log an operator in
    WO:<work-order number>/<sequence>    open an operation (sequence as stored: WO:WO-1001/10)
    QTY:<n>  SCRAP:<n>  REWORK:<n>       good, scrap and rework quantity
    RC:<reason code>                     set a reason
    ACT:START|PAUSE|REPORT|FINISH|LOGOUT an action
    VAL:<value>  PASS  FAIL:<defect code> an inspection result (measured value, pass, fail)

The traveler's header barcode holds the bare order number (the ERP's key), not a station code.
"""

from __future__ import annotations

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch, mm

ACTIONS = ("START", "PAUSE", "REPORT", "FINISH", "LOGOUT", "CLOCKOFF", "ANDON")

# The narrow bar is a whole number of 600-dpi printer dots, so that every bar of a symbol comes
# out the same width on an office laser printer: 8 dots (0.34 mm, about the GS1 nominal) when
# there is room, never fewer than 5 (0.21 mm; much narrower and handheld scanners start to miss).
PRINTER_DOT = inch / 600
X_DOTS = 8
MIN_X_DOTS = 5
# ISO/IEC 15417 asks for a quiet zone of ten narrow bars on each side.
QUIET_ZONE_MODULES = 10


class UnprintableCode(ValueError):
    """A value that cannot become a Code 128 barcode a keyboard-wedge scanner types back exactly."""


def employee_code(badge: str) -> str:
    return f"EMP:{badge}"


def operation_code(work_order_number: str, sequence: int) -> str:
    return f"WO:{work_order_number}/{sequence}"


def quantity_code(quantity: int) -> str:
    return f"QTY:{quantity}"


def scrap_code(quantity: int) -> str:
    return f"SCRAP:{quantity}"


def rework_code(quantity: int) -> str:
    return f"REWORK:{quantity}"


def reason_code(code: str) -> str:
    return f"RC:{code}"


PASS = "PASS"


def value_code(value: str) -> str:
    return f"VAL:{value}"


def fail_code(defect_code: str) -> str:
    return f"FAIL:{defect_code}"


def action_code(action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"Unknown station action {action!r}; expected one of {', '.join(ACTIONS)}")
    return f"ACT:{action}"


def code128(value: str, *, max_width: float, bar_height: float) -> Code128:
    """A Code 128 symbol of ``value`` (quiet zones included) no wider than ``max_width`` points.

    The narrow bar is 0.34 mm, narrowed down to 0.21 mm for a long value; a value still too long
    raises ``UnprintableCode``, and so does one outside printable ASCII, which reportlab would
    otherwise drop silently from the symbol.
    """
    if not value or not all(" " <= character <= "~" for character in value):
        raise UnprintableCode(
            f"{value!r} cannot be printed as Code 128: only printable ASCII characters can be scanned"
        )
    modules = Code128(value, barWidth=1, quiet=0).width + 2 * QUIET_ZONE_MODULES
    dots = min(X_DOTS, int(max_width / modules / PRINTER_DOT))
    if dots < MIN_X_DOTS:
        raise UnprintableCode(f"{value!r} is too long for a scannable Code 128 in {max_width / mm:.0f} mm")
    bar_width = dots * PRINTER_DOT
    quiet = QUIET_ZONE_MODULES * bar_width
    return Code128(value, barWidth=bar_width, barHeight=bar_height, quiet=1, lquiet=quiet, rquiet=quiet)
