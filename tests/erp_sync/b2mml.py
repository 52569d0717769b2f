"""What the B2MML tests share: MESA's official schemas (the workspace's copy beside the repository when
there is one, else the copy the product ships), and reading our documents back."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema
from django.conf import settings

from erp_sync.b2mml.validation import SCHEMA_DIR

NS = "{http://www.mesa.org/xml/B2MML}"
#: The schemas as MESA published them, handed to the workspace (``shared/b2mml/Schema``).
OFFICIAL_DIR = Path(settings.BASE_DIR).resolve().parent / "shared" / "b2mml" / "Schema"


@functools.cache
def official_schema() -> xmlschema.XMLSchema:
    folder = OFFICIAL_DIR if (OFFICIAL_DIR / "AllSchemas.xsd").exists() else SCHEMA_DIR
    return xmlschema.XMLSchema(str(folder / "AllSchemas.xsd"))


def assert_valid(data: bytes) -> ET.Element:
    """``data`` parsed, after checking it against the official schemas (every problem listed if not)."""
    root = ET.fromstring(data)
    problems = [f"{error.path}: {error.reason}" for error in official_schema().iter_errors(root)]
    assert not problems, problems
    return root


def texts(root: ET.Element, path: str) -> list[str]:
    """The text of every element at ``path`` (names without the namespace, / between them)."""
    return [element.text or "" for element in root.iterfind("/".join(f"{NS}{part}" for part in path.split("/")))]
