"""Content negotiation that answers the common case at once."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

#: What machines send (or nothing, which DRF reads as */*): the first renderer, JSON, answers.
_JSON_ACCEPTS = frozenset({"*/*", "application/json"})


class QuickContentNegotiation(DefaultContentNegotiation):
    """DRF's own negotiation, except that a request accepting JSON or anything, with no ``?format=``,
    gets the first renderer when that is JSON, without the header parsing and matching DRF does for
    every request: what DRF would pick. Browsers (``text/html``) still get the browsable API."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            not format_suffix
            and renderers
            and renderers[0].media_type == "application/json"
            and request.META.get("HTTP_ACCEPT", "*/*") in _JSON_ACCEPTS
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
