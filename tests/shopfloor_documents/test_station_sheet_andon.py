"""The station sheet prints the andon reasons in a section of their own, after the actions: ACT:ANDON, then RC:<code>."""

from __future__ import annotations

import pytest

from mes.models import ReasonCode
from shopfloor.documents import station_sheet_pdf
from tests.shopfloor_documents.pdf_reading import pdf_text, scanned_codes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("language", "heading", "hint"), [("en", "Andon: call for help", "Scan ACT:ANDON, then the reason"), ("zh-hans", "安灯：呼叫支援", "先扫 ACT:ANDON")])
def test_andon_reasons_have_their_own_section(language, heading, hint):
    ReasonCode.objects.bulk_create([
        ReasonCode(code="MATERIAL-01", kind=ReasonCode.Kind.ANDON, name="缺料 Material missing"),
        ReasonCode(code="EQUIPMENT-01", kind=ReasonCode.Kind.ANDON, name="设备故障 Machine broken down"),
        ReasonCode(code="SCRAP-01", kind=ReasonCode.Kind.SCRAP, name="材料缺陷"),
    ])
    pdf = station_sheet_pdf(None, ReasonCode.objects.order_by("kind", "code"), language=language)
    codes = scanned_codes(pdf)
    assert codes.index("ACT:ANDON") < codes.index("RC:EQUIPMENT-01") < codes.index("RC:MATERIAL-01") < codes.index("PASS")
    assert codes[-1] == "RC:SCRAP-01"
    text = pdf_text(pdf)
    assert heading in text and hint in text and "缺料 Material missing" in text
