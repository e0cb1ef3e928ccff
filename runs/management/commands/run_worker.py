"""``manage.py run_worker RUN_ID``: execute one run (started by the launcher, not by hand)."""

from django.core.management.base import BaseCommand

from runs.services.worker import run_worker


class Command(BaseCommand):
    help = "Execute one queued-and-claimed run to its end (the launcher starts this process)."

    def add_arguments(self, parser):
        parser.add_argument("run_id")

    def handle(self, *args, run_id: str, **options):
        run_worker(run_id)
