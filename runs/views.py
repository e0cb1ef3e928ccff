"""HTTP views of the runs app."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Report that the web process is up, for load balancers and CI readiness checks."""
    return JsonResponse({"ok": True})
