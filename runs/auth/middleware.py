"""The web layer's authentication checks: API tokens over HTTP, and sign-in for the UI's pages.

Both read ``settings.DAGVIZ_AUTH`` on each request (not at import), so a deployment's setting and
a test's ``override_settings`` apply the same way. With authentication off they do nothing.
"""

from __future__ import annotations

from typing import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse

from runs.auth.roles import Action, auth_enabled, may
from runs.auth.tokens import bearer_token, user_for_token

# Paths that must answer without a signed-in user: signing in and out, the load balancers' health
# check, static files (the login page needs its stylesheet), and Django's admin, which has its own login.
EXEMPT_PATHS = frozenset({"/login", "/logout", "/healthz"})
EXEMPT_PREFIXES = ("/admin/",)
GRAPHQL_PATH = "/graphql"


def json_error(message: str, status: int) -> JsonResponse:
    """An error in the shape GraphQL clients already read: ``{"errors": [{"message": ...}]}``."""
    response = JsonResponse({"errors": [{"message": message}]}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="dagviz"'
    return response


class BearerTokenMiddleware:
    """``Authorization: Bearer TOKEN`` signs the request in as the token's user; a bad token is a 401 at once.

    Token requests carry no cookies, so CSRF does not apply: a page of another site cannot make a
    browser send an ``Authorization`` header without a preflight, which dagviz never grants.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if auth_enabled():
            raw = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
            if raw is not None:
                user = user_for_token(raw)
                if user is None:
                    # Never fall back to the session: a script with a revoked token must learn it.
                    return json_error("The API token is invalid or revoked; create one with "
                                      "`dagviz tokens create USER`.", 401)
                request.user = user
        return self.get_response(request)


def is_exempt(request: HttpRequest) -> bool:
    """Whether ``request`` is served without a signed-in user."""
    path = request.path
    if path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES) or path.startswith(settings.STATIC_URL):
        return True
    # The API's own view answers anonymous POSTs with a GraphQL-shaped 401.
    return path == GRAPHQL_PATH and request.method == "POST"


def wants_html(request: HttpRequest) -> bool:
    """A browser navigating to a page, as opposed to a script or a fetch that expects data."""
    return request.method in ("GET", "HEAD") and "text/html" in request.META.get("HTTP_ACCEPT", "")


class LoginRequiredMiddleware:
    """With ``DAGVIZ_AUTH`` on, pages need a signed-in user with a role.

    A browser is sent to ``/login?next=<path>``; anything else gets a 401 in JSON, since a
    redirect to an HTML form is no answer a script can use. A signed-in user without a role
    (or an inactive one) gets a 403: signing in again would not change anything.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not auth_enabled() or is_exempt(request):
            return self.get_response(request)
        user = request.user
        if not user.is_authenticated:
            if wants_html(request):
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            return json_error("Sign in first: authentication is required (a session or "
                              "`Authorization: Bearer TOKEN`).", 401)
        if not may(user, Action.READ):
            message = (f"{user.get_username()} has no role; an admin can give one with "
                       f"`dagviz users add {user.get_username()} --role viewer`.")
            if wants_html(request):
                return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
            return json_error(message, 403)
        return self.get_response(request)
