#!/usr/bin/env python
"""Django's command-line utility for administrative tasks on the dagviz web app."""

import os
import sys


def main() -> None:
    """Run a Django management command with the dagviz settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dagviz.server.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
