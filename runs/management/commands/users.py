"""``manage.py users add|list|remove`` (also ``dagviz users ...``): the people who may sign in, and their roles.

    users add NAME --role viewer|operator|admin [--password P | --password -] [--json]
    users list [--json]
    users remove NAME [--json]

Bad input (unknown role or user, an empty password, a typed password the validators refuse) is one line on
stderr and exit status 2; a weak password given with --password or piped in is set, with a warning.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from runs.auth.accounts import add_user, deactivate_user, user_rows
from runs.auth.roles import ROLE_ORDER, parse_role
from runs.management.commands._auth_cli import bad_input, format_table

ASK = "-"  # `--password -`: read the password (prompt or stdin) even for an existing user


def read_password(stdin: Any = None) -> str:
    """Ask twice on a terminal; otherwise take one line of stdin, so a script can pipe the password in."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise bad_input("The two passwords differ.")
        return first
    return stdin.readline().rstrip("\r\n")


class Command(BaseCommand):
    help = ("Manage the users who may sign in when DAGVIZ_AUTH is on. 'add' creates a user or changes an "
            "existing one's role; 'remove' deactivates a user and revokes their API tokens (the user is kept so "
            "the runs they launched still name them; 'add' again brings them back).")
    stealth_options = ("stdin",)  # call_command(..., stdin=StringIO(...)) in tests, as createsuperuser does

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{add,list,remove}")
        add = actions.add_parser("add", help="create a user, or change an existing user's role (and password)")
        add.add_argument("username", metavar="NAME")
        add.add_argument("--role", required=True, choices=[role.value for role in ROLE_ORDER],
                         help="viewer: read; operator: also launch, re-execute, terminate, delete; "
                              "admin: also users and tokens (and Django's admin site)")
        add.add_argument("--password", help="the password; without it a new user's password is asked (or read "
                                            "from stdin); '-' asks for it for an existing user too")
        add.add_argument("--json", action="store_true")
        listing = actions.add_parser("list", help="users with their role, last login and live tokens")
        listing.add_argument("--json", action="store_true")
        remove = actions.add_parser("remove", help="deactivate a user and revoke their API tokens")
        remove.add_argument("username", metavar="NAME")
        remove.add_argument("--json", action="store_true")

    def handle(self, *args: Any, action: str, json: bool, **options: Any) -> None:
        try:
            if action == "add":
                self.add(options["username"], options["role"], options["password"], json, options.get("stdin"))
            elif action == "list":
                self.list_users(json)
            else:
                self.remove(options["username"], json)
        except ValueError as error:  # AccountError, or parse_role's unknown role
            raise bad_input(str(error)) from None

    def add(self, username: str, role_name: str, password: str | None, as_json: bool, stdin: Any = None) -> None:
        role = parse_role(role_name)
        typed = password == ASK or (password is None and not _exists(username))
        if typed:
            password = read_password(stdin)
        # A password typed at a prompt must pass the validators; one given on the command line (or piped)
        # was chosen by whoever runs the server's own commands, and a weak one is set with a warning.
        prompted = typed and (stdin or sys.stdin).isatty()
        result = add_user(username, role, password, strict=prompted)
        if result.password_weaknesses:
            self.stderr.write(f"warning: weak password for {username!r}: {' '.join(result.password_weaknesses)}")
        if as_json:
            self.stdout.write(json.dumps({"username": result.user.get_username(), "role": role.value,
                                          "created": result.created}))
            return
        if result.created:
            self.stdout.write(f"Created user {username!r} with the {role.value} role.")
            return
        changes = [f"role {role.value}", "password changed" if result.password_changed else "password unchanged"]
        if result.reactivated:
            changes.append("reactivated")
        self.stdout.write(f"User {username!r} already existed; updated: {', '.join(changes)}.")

    def list_users(self, as_json: bool) -> None:
        rows = user_rows()
        if as_json:
            self.stdout.write(json.dumps(rows))
            return
        if not rows:
            self.stdout.write("No users; create one with `dagviz users add NAME --role admin`.")
            return
        table = [("USERNAME", "ROLE", "ACTIVE", "LAST LOGIN", "TOKENS")]
        table += [(r["username"], r["role"] or "-", "yes" if r["is_active"] else "no",
                   (r["last_login"] or "never")[:19], str(r["tokens"])) for r in rows]
        self.stdout.write(format_table(table))

    def remove(self, username: str, as_json: bool) -> None:
        revoked = deactivate_user(username)
        if as_json:
            self.stdout.write(json.dumps({"username": username, "is_active": False, "tokens_revoked": revoked}))
        else:
            self.stdout.write(f"Deactivated user {username!r}; revoked {revoked} API token(s). "
                              f"`dagviz users add {username} --role ROLE` brings them back.")


def _exists(username: str) -> bool:
    from django.contrib.auth import get_user_model

    model = get_user_model()
    return model.objects.filter(**{model.USERNAME_FIELD: username.strip()}).exists()

