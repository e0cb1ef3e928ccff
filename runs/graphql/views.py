"""``/graphql`` over HTTP: queries and mutations (POST), GraphiQL (GET from a browser)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from graphene_django.views import GraphQLView
from graphql import ExecutionResult, GraphQLError, GraphQLSyntaxError, OperationType, get_operation_ast, parse

from runs.auth.middleware import json_error
from runs.auth.roles import auth_enabled, role_of_caller
from runs.graphql.limits import refuse_over_limits, within_limits
from runs.graphql.request_bounds import BoundedJsonBodyMixin


logger = logging.getLogger(__name__)


JSON_CONTENT_TYPE = "application/json"

SUBSCRIPTION_OVER_HTTP = ("Subscriptions are served over the websocket at /graphql (graphql-transport-ws); "
                          "HTTP POST cannot run them. Send queries and mutations here, or open a websocket to "
                          "/graphql with the graphql-transport-ws subprotocol for {operation}.")


def subscription_refused(query: str, operation_name: str | None) -> GraphQLError | None:
    """The error for a document whose chosen operation is a subscription, which HTTP cannot stream; else None.

    graphql-core would hand the view an async stream it cannot serialize (a TypeError, reported as an
    internal error), so the client is told where subscriptions are served instead.
    """
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLSyntaxError:
        return None  # reported with its location by the normal path
    if operation is None or operation.operation != OperationType.SUBSCRIPTION:
        return None
    name = f"subscription {operation.name.value!r}" if operation.name else "this subscription"
    return GraphQLError(SUBSCRIPTION_OVER_HTTP.format(operation=name),
                        extensions={"code": "SUBSCRIPTION_OVER_HTTP", "websocket": "/graphql",
                                    "subprotocol": "graphql-transport-ws"})


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF rules (token, ``Origin``, ``Referer``, ``CSRF_TRUSTED_ORIGINS``), answering 403."""

    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        return HttpResponse(reason, status=403, content_type="text/plain")


def _csrf_check() -> _CsrfCheck:
    """A checker used outside the middleware chain (the view is csrf_exempt so that it decides itself)."""
    return _CsrfCheck(lambda request: None)


def foreign_origin(request: HttpRequest) -> str | None:
    """The request's ``Origin`` if it names another site, else None.

    Browsers send ``Origin`` on every cross-site POST (form, ``no-cors`` fetch), with or without
    cookies, so a present but foreign ``Origin`` is a page of another site talking to us. Django's
    CSRF rules decide what is "ours": the request's own scheme and host, or ``CSRF_TRUSTED_ORIGINS``.
    """
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None or _csrf_check()._origin_verified(request):
        return None
    return origin


def carries_browser_cookies(request: HttpRequest) -> bool:
    """Whether the request carries the CSRF or session cookie, i.e. comes from a browser holding our cookies."""
    return settings.CSRF_COOKIE_NAME in request.COOKIES or settings.SESSION_COOKIE_NAME in request.COOKIES


def refuse_cross_site(request: HttpRequest) -> HttpResponse | None:
    """The answer that refuses a request another site's page could have sent, or None to serve it.

    A browser sends a cross-site form or ``no-cors`` fetch without preflight only with a form or
    ``text/plain`` body, and (SameSite=Lax) without our cookies; a JSON body needs a preflight,
    which we never grant. So: a foreign ``Origin`` is refused (403); a POST that carries our
    cookies must carry the CSRF token (403); a POST without them must be JSON (415).
    """
    origin = foreign_origin(request)
    if origin is not None:
        return HttpResponse(f"Origin {origin!r} is not allowed; add it to DAGVIZ_CSRF_TRUSTED_ORIGINS to trust it.",
                            status=403, content_type="text/plain")
    if request.method != "POST":
        return None
    if carries_browser_cookies(request):
        return _csrf_check().process_view(request, None, (), {})
    if request.content_type != JSON_CONTENT_TYPE:
        return HttpResponse(f"POST /graphql takes a {JSON_CONTENT_TYPE} body, not {request.content_type!r}; "
                            "other bodies need the CSRF cookie and its token.", status=415, content_type="text/plain")
    return None


AUTHENTICATION_REQUIRED = ("Authentication required: sign in, or send Authorization: Bearer TOKEN "
                           "(see `dagviz tokens create`).")


def refuse_without_role(request: HttpRequest) -> HttpResponse | None:
    """With authentication on, the answer for a caller without a role (401 anonymous, 403 signed in); else None.

    Answered before GraphQL runs, so an anonymous script learns how to authenticate instead of
    getting one refused field after another. The role each field needs is checked by ``RoleMiddleware``.
    """
    if not auth_enabled():
        return None
    user = getattr(request, "user", None)
    if role_of_caller(request, user) is not None:  # kept on the request for RoleMiddleware's checks
        return None
    if user is not None and user.is_authenticated:
        return json_error(f"{user.get_username()} has no role; an admin must give it one (viewer, operator or admin).",
                          403)
    return json_error(AUTHENTICATION_REQUIRED, 401)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(ensure_csrf_cookie, name="dispatch")
class DagvizGraphQLView(BoundedJsonBodyMixin, GraphQLView):
    """GraphQL over HTTP.

    Requests that another site's page could send are refused (``refuse_cross_site``): the UI and
    GraphiQL post JSON with the CSRF token, scripts post JSON without cookies or ``Origin``.
    Errors never include stack traces unless DEBUG.
    """

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return refuse_cross_site(request) or refuse_without_role(request) or super().dispatch(request, *args, **kwargs)

    def execute_graphql_request(self, request: HttpRequest, data: dict, query: str | None, variables: dict | None,
                                operation_name: str | None, show_graphiql: bool = False) -> ExecutionResult | None:
        # The query limits refuse an oversized document (HTTP 400) before graphene-django parses it
        # for execution, which is then held to the time budget (runs/graphql/limits.py).
        if isinstance(query, str) and query:
            refused = refuse_over_limits(self.schema.graphql_schema, query, variables)
            if refused:
                return ExecutionResult(data=None, errors=refused)
            subscription = None if show_graphiql else subscription_refused(query, operation_name)
            if subscription is not None:  # an error without a path: graphene-django answers HTTP 400
                return ExecutionResult(data=None, errors=[subscription])
        return within_limits(super().execute_graphql_request)(request, data, query, variables, operation_name,
                                                              show_graphiql)

    @staticmethod
    def format_error(error: Exception) -> dict:
        formatted = GraphQLView.format_error(error)
        original = getattr(error, "original_error", None)
        # Only an error with a path was raised while resolving a field; one without (a literal that
        # a custom scalar cannot parse, found by validation) is the client's mistake, told as such.
        if original is not None and not isinstance(original, GraphQLError) and error.path is not None \
                and not settings.DEBUG:
            logger.error("GraphQL resolver failed", exc_info=original)
            formatted["message"] = f"Internal error ({type(original).__name__}); see the server log."
            formatted.pop("extensions", None)
        return formatted
