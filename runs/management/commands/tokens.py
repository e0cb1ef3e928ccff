"""``manage.py tokens create|list|revoke`` (also ``dagviz tokens ...``): API tokens for scripts.

    tokens create USER [--name LABEL] [--json]   the token is printed once, alone on the last line
    tokens list [--json]                          never the secret
    tokens revoke ID [--json]

A script sends ``Authorization: Bearer TOKEN`` and acts as USER, with USER's role.
Bad input (unknown user or token id) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from runs.auth.accounts import AccountError, find_user
from runs.auth.roles import role_of
from runs.auth.tokens import UnknownTokenError, create_token, revoke_token
from runs.management.commands._auth_cli import bad_input, format_table
from runs.models import ApiToken



def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def token_row(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "user": token.user.get_username(), "name": token.name,
            "created": _when(token.created_at), "last_used": _when(token.last_used_at),
            "revoked": _when(token.revoked_at)}


class Command(BaseCommand):
    help = ("Create, list and revoke API tokens. A token acts as its user, with that user's role; it is shown "
            "once, when created (only a digest is stored).")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = actions.add_parser("create", help="a new token for a user; printed alone on the last line")
        create.add_argument("username", metavar="NAME", help="the user the token acts as")
        create.add_argument("--name", default="", metavar="LABEL", help="what the token is for, e.g. nightly-etl")
        create.add_argument("--json", action="store_true")
        listing = actions.add_parser("list", help="every token: id, user, name, created, last used, revoked")
        listing.add_argument("--json", action="store_true")
        revoke = actions.add_parser("revoke", help="revoke a token: requests with it get 401 from now on")
        revoke.add_argument("token_id", metavar="ID")
        revoke.add_argument("--json", action="store_true")

    def handle(self, *args: Any, action: str, json: bool, **options: Any) -> None:
        try:
            if action == "create":
                self.create(options["username"], options["name"], json)
            elif action == "list":
                self.list_tokens(json)
            else:
                self.revoke(options["token_id"], json)
        except (AccountError, UnknownTokenError) as error:
            raise bad_input(str(error)) from None

    def create(self, username: str, label: str, as_json: bool) -> None:
        user = find_user(username)
        if not user.is_active:
            raise AccountError(f"User {username!r} is deactivated; `dagviz users add {username} --role ROLE` "
                               "brings them back.")
        token, raw = create_token(user, label)
        if as_json:
            self.stdout.write(json.dumps({"id": token.id, "user": username, "name": label, "token": raw}))
            return
        role = role_of(user)
        if role is None:
            self.stderr.write(f"warning: {username!r} has no role, so the token can do nothing until "
                              f"`dagviz users add {username} --role ROLE`.")
        label_text = f" {label!r}" if label else ""
        self.stdout.write(f"Created API token {token.id}{label_text} for {username!r} "
                          f"({role.value if role else 'no role'}). It is shown only now; send it as "
                          "`Authorization: Bearer TOKEN`:")
        self.stdout.write(raw)  # alone on the last line: `dagviz tokens create NAME | tail -1`

    def list_tokens(self, as_json: bool) -> None:
        rows = [token_row(token) for token in ApiToken.objects.select_related("user").order_by("id")]
        if as_json:
            self.stdout.write(json.dumps(rows))
            return
        if not rows:
            self.stdout.write("No API tokens; create one with `dagviz tokens create USER`.")
            return
        table = [("ID", "USER", "NAME", "CREATED", "LAST USED", "REVOKED")]
        table += [(str(r["id"]), r["user"], r["name"] or "-", r["created"][:19],
                   (r["last_used"] or "never")[:19], (r["revoked"] or "no")[:19]) for r in rows]
        self.stdout.write(format_table(table))

    def revoke(self, token_id: str, as_json: bool) -> None:
        token = revoke_token(token_id)
        if as_json:
            self.stdout.write(json.dumps(token_row(token)))
        else:
            self.stdout.write(f"Revoked API token {token.id} of {token.user.get_username()!r} "
                              f"(at {token.revoked_at.isoformat()[:19]}).")
