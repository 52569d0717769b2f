"""ISA-95 B2MML (MESA International's XML schemas, Version 0701) both ways.

- ``validation``: the schemas shipped in ``schema/`` (unchanged, with MESA's attribution notice:
  "The Business To Manufacturing Markup Language (B2MML) is used courtesy of MESA International."),
  loaded once per process; parsing untrusted XML (no DTD, no entities) with line numbers, and the
  problems of a document as line + rule.
- ``documents``: what the ``b2mml`` connector sends for an outbox message
  (``ProcessOperationsPerformance`` / ``CancelOperationsPerformance``).
- ``schedule``: reading a ``ProcessOperationsSchedule`` into work orders and routings, and the
  ``AcknowledgeOperationsSchedule`` that answers it.

``validation`` and ``schedule`` import no Django, so the simulator validates with the same code.
"""

NAMESPACE = "http://www.mesa.org/xml/B2MML"
#: The release the documents we write declare (the B2MML version of the schemas shipped).
RELEASE_ID = "0701"


def tag(name: str) -> str:
    """A B2MML element name in ElementTree's ``{namespace}name`` form."""
    return f"{{{NAMESPACE}}}{name}"
