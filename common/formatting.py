"""Numbers as people read them: quantities without trailing zeros, grouped in the active locale."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import formats, numberformat

THOUSANDTH = Decimal("0.001")


def plain(*, quantity: Decimal) -> str:
    """A quantity as people write it in a message: 10, 2.5 — never 1E+1 or 10.000 (no grouping)."""
    return f"{quantity.normalize():f}"


@dataclass(frozen=True)
class Numbers:
    """The active language's way of writing numbers, looked up once for a whole page of them."""

    decimal_separator: str
    thousand_separator: str
    grouping: int

    @classmethod
    def active(cls) -> Numbers:
        return cls(formats.get_format("DECIMAL_SEPARATOR"), formats.get_format("THOUSAND_SEPARATOR"), formats.get_format("NUMBER_GROUPING"))

    def quantity(self, value) -> str:
        """10.000 → 10, 1234.500 → 1,234.5 (to three places at most, grouped the language's way)."""
        if value is None or value == "":
            return "—"
        number = Decimal(value).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)
        number = number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()
        if not self.thousand_separator or not self.grouping:
            return f"{number:f}".replace(".", self.decimal_separator)
        if self.grouping == 3:  # the common case, formatted in C
            return f"{number:,f}".replace(",", "\0").replace(".", self.decimal_separator).replace("\0", self.thousand_separator)
        return numberformat.format(
            number, self.decimal_separator, grouping=self.grouping, thousand_sep=self.thousand_separator, force_grouping=True
        )

    def milli(self, value: int) -> str:
        """A quantity given as an exact count of thousandths, written as :meth:`quantity` writes it, without Decimal."""
        if self.thousand_separator and self.grouping and self.grouping != 3:  # groups of another size: the general way
            return self.quantity(Decimal(value).scaleb(-3))
        whole, thousandths = divmod(-value if value < 0 else value, 1000)
        text = f"{whole:,}".replace(",", self.thousand_separator) if self.thousand_separator and self.grouping else str(whole)
        if thousandths:
            text = f"{text}{self.decimal_separator}{thousandths:03d}".rstrip("0")
        return "-" + text if value < 0 else text

    def whole_percent(self, percent: int) -> str:
        """A percentage already rounded to a whole number, written as :meth:`percent` writes it."""
        return "> 999 %" if percent > 999 else f"{percent} %"

    def percent(self, share) -> str:
        """A share as a whole percentage: 0.876 → 88 %."""
        if share is None:
            return "—"
        whole = (Decimal(share) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return self.whole_percent(int(whole))  # far ahead of a plan that has barely begun: "> 999 %"
