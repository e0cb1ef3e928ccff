"""Signing in and out: Django's own views, with dagviz's template and the answer to a locked-out login."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from axes.helpers import get_lockout_message

LOGIN_TEMPLATE = "runs/login.html"
TOO_MANY_REQUESTS = 429

# Django's LoginView checks `next` with url_has_allowed_host_and_scheme, so only our own paths are followed.
login_view = LoginView.as_view(template_name=LOGIN_TEMPLATE, redirect_authenticated_user=True)
# POST only (Django's LogoutView refuses GET), so another site cannot sign a user out with a link.
logout_view = LogoutView.as_view()


def lockout_response(request: HttpRequest, *_: object) -> HttpResponse:
    """The login page again, saying the account or address is locked out (django-axes' AXES_LOCKOUT_CALLABLE).

    Axes calls this with (request, response, credentials) or (request, credentials) depending on
    the path it takes; neither is needed here.
    """
    form = AuthenticationForm(request)
    context = {"form": form, "lockout_message": str(get_lockout_message()),
               "next": ""}  # the failed attempt's `next` is not checked here; start from the home page
    return render(request, LOGIN_TEMPLATE, context, status=TOO_MANY_REQUESTS)
