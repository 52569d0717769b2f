"""Parse and validate B2MML documents against MESA's schemas (``schema/AllSchemas.xsd``).

The schemas take about a second and a half to build, so ``b2mml_schema`` builds them once per
process (under a lock: sender threads may ask at once) and keeps them. Documents from outside
are parsed by ``xml_parse``: expat, with the line of each element kept (ElementTree keeps none,
and an integrator needs the line), and any DTD refused, so no entity can expand or fetch.
No Django here: the simulator validates with the same code.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import xmlschema

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
SCHEMA_FILE = SCHEMA_DIR / "AllSchemas.xsd"
#: Problems named in one refusal; a broken document can have hundreds.
MAX_PROBLEMS = 10

_schema: xmlschema.XMLSchema | None = None
_schema_lock = threading.Lock()
_NAMESPACE_PART = re.compile(r"\{[^}]*\}")


def b2mml_schema() -> xmlschema.XMLSchema:
    """MESA's B2MML V0701 schemas, built on first use and kept for the life of the process."""
    global _schema
    if _schema is None:
        with _schema_lock:
            if _schema is None:
                _schema = xmlschema.XMLSchema(str(SCHEMA_FILE))
    return _schema


class LineElement(ET.Element):
    """An element that knows the line it started on (``sourceline``, as lxml names it, which xmlschema reads)."""

    sourceline: int | None = None


@dataclass(frozen=True)
class Problem:
    """One reason a document is refused: where (line, element path) and the rule it breaks."""

    line: int | None
    rule: str
    path: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "the document"
        return f"{where}: {self.rule}" + (f" ({self.path})" if self.path else "")


class DocumentRefused(ValueError):
    """A document that is not well-formed XML (``malformed``), not valid B2MML (``invalid``), or not the
    document expected here (``unexpected``)."""

    def __init__(self, kind: str, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.kind = kind
        self.problems = problems


def xml_parse(data: bytes) -> LineElement:
    """The element tree of ``data``, each element with its line; raises ``DocumentRefused`` (malformed)."""
    builder = ET.TreeBuilder(element_factory=LineElement)
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True

    def start(name: str, attributes: dict[str, str]) -> None:
        element = builder.start(_clark(name), {_clark(key): value for key, value in attributes.items()})
        element.sourceline = parser.CurrentLineNumber

    def refuse_dtd(*_arguments: object) -> None:
        raise DocumentRefused("malformed", [Problem(parser.CurrentLineNumber, "A DTD or entity declaration is not allowed.")])

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        rule = f"Not well-formed XML: {expat.errors.messages[error.code]} (column {error.offset + 1})."
        raise DocumentRefused("malformed", [Problem(error.lineno, rule)]) from None
    return builder.close()


def _clark(name: str) -> str:
    """expat's ``namespace}local`` as ElementTree's ``{namespace}local``."""
    return "{" + name if "}" in name else name


def local_name(name: str) -> str:
    return _NAMESPACE_PART.sub("", name)


def document_problems(root: ET.Element, *, limit: int = MAX_PROBLEMS) -> list[Problem]:
    """What in ``root`` breaks the B2MML schemas, first ``limit`` problems; empty when it is valid."""
    problems: list[Problem] = []
    try:
        for error in b2mml_schema().iter_errors(root):
            element = error.elem
            index = getattr(error, "index", None)
            if element is not None and isinstance(index, int) and 0 <= index < len(element):
                element = element[index]  # a child out of place: name its own line, not its parent's
            line = getattr(element, "sourceline", None)
            path = local_name(error.path or "")
            problems.append(Problem(line, local_name(str(error.reason or error.message)), path))
            if len(problems) >= limit:
                break
    except RecursionError:
        problems.append(Problem(getattr(root, "sourceline", None), "The document is nested too deeply to validate."))
    return problems


def document_check(data: bytes, *, expected: str | None = None) -> LineElement:
    """The parsed document, once it is well-formed, valid B2MML and (if ``expected``) that document;
    raises ``DocumentRefused`` naming the line and the rule otherwise."""
    root = xml_parse(data)
    problems = document_problems(root)
    if problems:
        raise DocumentRefused("invalid", problems)
    if expected and root.tag != f"{{http://www.mesa.org/xml/B2MML}}{expected}":
        rule = f"Expected a {expected} document, got {local_name(root.tag)}."
        raise DocumentRefused("unexpected", [Problem(getattr(root, "sourceline", None), rule)])
    return root
