"""The documents' Chinese catalogue for every test here."""

from __future__ import annotations

from pathlib import Path

import pytest

import shopfloor.documents

DOCUMENTS_LOCALE = Path(shopfloor.documents.__file__).resolve().parent / "locale"


@pytest.fixture(autouse=True)
def documents_catalogue(settings):
    """Needed while the documents keep their own catalogue; a no-op once it is merged into
    locale/zh_Hans and shopfloor/documents/locale is removed."""
    if DOCUMENTS_LOCALE.is_dir() and DOCUMENTS_LOCALE not in settings.LOCALE_PATHS:
        settings.LOCALE_PATHS = [*settings.LOCALE_PATHS, DOCUMENTS_LOCALE]
