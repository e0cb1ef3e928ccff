"""``manage.py monitor_runs [--once]``: end runs whose worker died, start queued runs, prune old runs.

Pruning follows ``DAGVIZ_RETENTION_DAYS`` (0: keep every run): once at start, then at most once an hour.
"""

import time

from django.core.management.base import BaseCommand

from dagviz.errors import DagvizError
from runs.services.monitor import CHECK_INTERVAL_SECONDS, check_runs
from runs.services.retention import RetentionSchedule


class Command(BaseCommand):
    help = ("Watch active runs: a run whose worker died is marked failed; queued runs start when slots free up; "
            "runs older than DAGVIZ_RETENTION_DAYS are deleted.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="check once and exit")

    def handle(self, *args, once: bool, **options):
        retention = RetentionSchedule()
        while True:
            for run_id in check_runs():
                self.stdout.write(f"Ended run {run_id}: its worker is gone.")
            self.prune(retention)
            if once:
                return
            time.sleep(CHECK_INTERVAL_SECONDS)

    def prune(self, retention: RetentionSchedule) -> None:
        """Prune if it is time; a prune that fails is reported and the monitor keeps watching runs."""
        try:
            report = retention.prune_if_due()
        except (DagvizError, OSError) as error:
            self.stderr.write(f"Retention: pruning failed ({error}); it is tried again later.")
            return
        if report is not None and report.deleted:
            for line in report.lines():
                self.stdout.write(f"Retention: {line}")
