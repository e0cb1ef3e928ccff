"""A JSON request body too deeply nested for Python's parser is a 400, not a 500.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) on a body such as ``variables``
nested 10,000 arrays deep; graphene-django's ``parse_body`` catches only ``ValueError`` and
``AssertionError``, so the request ended as an unhandled server error.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBadRequest
from graphene_django.views import HttpError


class BoundedJsonBodyMixin:
    """Put before ``GraphQLView`` in a view's bases: too-deep JSON bodies get HTTP 400 with a plain reason."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return super().parse_body(request)  # type: ignore[misc]
        except RecursionError:
            raise HttpError(HttpResponseBadRequest("POST body is JSON nested too deeply to parse.",
                                                   content_type="text/plain")) from None
