"""Django's admin site for admins: users and their roles come with django.contrib.auth; tokens are listed here.

Tokens are created with ``dagviz tokens create`` (the secret is shown once, on the command line);
the admin lists them, never shows a secret, and can revoke them.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from runs.auth.tokens import revoke_token
from runs.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "name")
    fields = ("user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token's secret must be shown once to its creator: `dagviz tokens create`

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            revoke_token(token.pk)
