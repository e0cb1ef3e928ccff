"""``dagviz users`` and ``dagviz tokens`` as an admin types them: the installed command, real exit codes.

The commands run on the test database (SQLite or PostgreSQL, whichever this pass uses), so the
tests read what they wrote through the ORM.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from runs.auth.roles import Role, role_of
from runs.auth.tokens import user_for_token
from runs.models import ApiToken
from runs.services.launch import database_url_for_workers
from tests import servers

DAGVIZ = str(Path(sys.executable).parent / "dagviz")
PASSWORD = "a long enough passphrase"

pytestmark = pytest.mark.django_db(transaction=True)


def dagviz(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = servers.server_environment("dagviz.examples", DATABASE_URL=database_url_for_workers(),
                                     DAGVIZ_HOME=str(settings.DAGVIZ_HOME))
    return subprocess.run([DAGVIZ, *args], input=stdin, capture_output=True, text=True, timeout=120, env=env)


def test_users_add_reads_the_password_from_stdin_and_json_says_created():
    added = dagviz("users", "add", "alice", "--role", "operator", "--json", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"username": "alice", "role": "operator", "created": True}
    alice = get_user_model().objects.get(username="alice")
    assert alice.check_password(PASSWORD) and role_of(alice) == Role.OPERATOR and not alice.is_staff


def test_adding_an_existing_user_changes_the_role_and_says_so():
    assert dagviz("users", "add", "bob", "--role", "viewer", "--password", PASSWORD).returncode == 0
    again = dagviz("users", "add", "bob", "--role", "admin")
    assert again.returncode == 0, again.stderr
    assert "already existed" in again.stdout and "role admin" in again.stdout and "password unchanged" in again.stdout
    bob = get_user_model().objects.get(username="bob")
    assert role_of(bob) == Role.ADMIN and bob.is_staff and bob.check_password(PASSWORD)


@pytest.mark.parametrize("password, message", [("short", "too short"), ("password123", "too common"),
                                               ("12345678901", "entirely numeric")])
def test_a_weak_password_given_on_the_command_line_is_set_with_the_validators_warning(password, message):
    added = dagviz("users", "add", "carol", "--role", "viewer", "--password", password)
    assert added.returncode == 0, added.stderr
    assert message in added.stderr and "warning" in added.stderr and "Traceback" not in added.stderr
    assert get_user_model().objects.get(username="carol").check_password(password)


def test_an_empty_password_is_refused():
    refused = dagviz("users", "add", "carol", "--role", "viewer", "--password", "")
    assert refused.returncode == 2
    assert "empty" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not get_user_model().objects.filter(username="carol").exists()


def test_users_list_and_remove():
    dagviz("users", "add", "dave", "--role", "viewer", "--password", PASSWORD)
    dagviz("tokens", "create", "dave")
    listed = dagviz("users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [{"username": "dave", "role": "viewer", "is_active": True,
                                          "last_login": None, "tokens": 1}]
    table = dagviz("users", "list").stdout
    assert table.splitlines()[0].split() == ["USERNAME", "ROLE", "ACTIVE", "LAST", "LOGIN", "TOKENS"]
    removed = dagviz("users", "remove", "dave")
    assert removed.returncode == 0 and "Deactivated" in removed.stdout
    assert json.loads(dagviz("users", "list", "--json").stdout)[0]["is_active"] is False
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()
    assert dagviz("users", "remove", "nobody").returncode == 2


def test_tokens_create_prints_the_token_alone_on_the_last_line():
    dagviz("users", "add", "erin", "--role", "operator", "--password", PASSWORD)
    created = dagviz("tokens", "create", "erin", "--name", "nightly")
    assert created.returncode == 0, created.stderr
    raw = created.stdout.strip().splitlines()[-1]
    assert user_for_token(raw).username == "erin"
    assert ApiToken.objects.get().name == "nightly"

    as_json = json.loads(dagviz("tokens", "create", "erin", "--json").stdout)
    assert set(as_json) == {"id", "user", "name", "token"} and as_json["user"] == "erin"
    assert user_for_token(as_json["token"]).username == "erin"


def test_tokens_list_never_shows_the_secret_and_revoke_ends_it():
    dagviz("users", "add", "frank", "--role", "viewer", "--password", PASSWORD)
    raw = dagviz("tokens", "create", "frank").stdout.strip().splitlines()[-1]
    token_id = ApiToken.objects.get().id
    listed = dagviz("tokens", "list", "--json")
    assert raw not in listed.stdout and ApiToken.objects.get().digest not in listed.stdout
    row = json.loads(listed.stdout)[0]
    assert set(row) == {"id", "user", "name", "created", "last_used", "revoked"} and row["revoked"] is None
    assert raw not in dagviz("tokens", "list").stdout

    revoked = dagviz("tokens", "revoke", str(token_id), "--json")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revoked"] is not None
    assert user_for_token(raw) is None


@pytest.mark.parametrize("args, message", [
    (["tokens", "create", "nobody"], "No user named 'nobody'"),
    (["tokens", "revoke", "999"], "No API token has id '999'"),
    (["tokens", "revoke", "abc"], "No API token has id 'abc'"),
])
def test_unknown_users_and_tokens_are_one_line_errors_with_exit_2(args, message):
    refused = dagviz(*args)
    assert refused.returncode == 2
    assert message in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_terminal_is_asked_twice(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([PASSWORD, PASSWORD + " typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    with pytest.raises(CommandError, match="differ"):
        call_command("users", "add", "gina", "--role", "viewer", stdin=Terminal())
    answers = iter([PASSWORD, PASSWORD])
    call_command("users", "add", "gina", "--role", "viewer", stdin=Terminal(), stdout=io.StringIO())
    assert get_user_model().objects.get(username="gina").check_password(PASSWORD)
    answers = iter(["short", "short"])  # typed at a prompt, the validators decide
    with pytest.raises(CommandError, match="too short"):
        call_command("users", "add", "hal", "--role", "viewer", stdin=Terminal())
    assert not get_user_model().objects.filter(username="hal").exists()


def test_the_same_commands_through_manage_py():
    created = subprocess.run([sys.executable, "manage.py", "users", "add", "hana", "--role", "viewer", "--json"],
                             input=PASSWORD + "\n", capture_output=True, text=True, timeout=120, cwd=settings.BASE_DIR,
                             env=servers.server_environment("dagviz.examples", DATABASE_URL=database_url_for_workers()))
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["created"] is True
