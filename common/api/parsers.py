from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

NUL = "\x00"
NUL_REFUSAL = "NUL characters (\\u0000) are not allowed."


def nul_path(data: Any) -> str | None:
    """Where the first string (value or key, at any depth) holding a NUL character is, as
    ``options.headers[2]``; None when there is none. PostgreSQL text and JSON cannot store NUL.

    Walks with a stack of its own: a document nested as deeply as the parser allows must not
    exhaust Python's.
    """
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                return path or "_"
        elif isinstance(value, dict):
            for key, item in value.items():
                name = str(key)
                where = f"{path}.{name}" if path else name
                if NUL in name:
                    return where.replace(NUL, "\\u0000")
                stack.append((item, where))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
    return None


def refuse_nul(data: Any) -> Any:
    """``data`` as it is, or a 400 naming the field that holds a NUL character."""
    where = nul_path(data)
    if where is not None:
        raise ValidationError({where: [NUL_REFUSAL]})
    return data


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, plus a clear 400 for bodies nested too deeply to parse and for NUL
    characters in any string, so no view hands one to the database."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        return refuse_nul(data)
