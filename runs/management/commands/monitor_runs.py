"""``manage.py monitor_runs [--once]``: end runs whose worker died, and start queued runs."""

import time

from django.core.management.base import BaseCommand

from runs.services.monitor import CHECK_INTERVAL_SECONDS, check_runs


class Command(BaseCommand):
    help = "Watch active runs: a run whose worker died is marked failed; queued runs start when slots free up."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="check once and exit")

    def handle(self, *args, once: bool, **options):
        while True:
            for run_id in check_runs():
                self.stdout.write(f"Ended run {run_id}: its worker is gone.")
            if once:
                return
            time.sleep(CHECK_INTERVAL_SECONDS)
