"""Django app configuration for ``runs``."""

from django.apps import AppConfig


class RunsConfig(AppConfig):
    """Registers the runs app: persisted runs, events and the pages that show them."""

    name = "runs"
    verbose_name = "Runs"
    default_auto_field = "django.db.models.BigAutoField"
