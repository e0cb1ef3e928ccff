"""``/graphql`` over HTTP: queries and mutations (POST), GraphiQL (GET from a browser)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from graphene_django.views import GraphQLView
from graphql import GraphQLError


logger = logging.getLogger(__name__)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        return HttpResponse(reason, status=403)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(ensure_csrf_cookie, name="dispatch")
class DagvizGraphQLView(GraphQLView):
    """GraphQL over HTTP.

    A request that carries the browser's session or CSRF cookie must carry the CSRF token too
    (the UI sends it); scripts and API clients without cookies need none. Errors never include
    stack traces unless DEBUG.
    """

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST" and (settings.CSRF_COOKIE_NAME in request.COOKIES
                                         or settings.SESSION_COOKIE_NAME in request.COOKIES):
            rejection = _CsrfCheck(lambda r: None).process_view(request, None, (), {})
            if rejection is not None:
                return rejection
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def format_error(error: Exception) -> dict:
        formatted = GraphQLView.format_error(error)
        original = getattr(error, "original_error", None)
        if original is not None and not isinstance(original, GraphQLError) and not settings.DEBUG:
            logger.error("GraphQL resolver failed", exc_info=original)
            formatted["message"] = f"Internal error ({type(original).__name__}); see the server log."
            formatted.pop("extensions", None)
        return formatted
