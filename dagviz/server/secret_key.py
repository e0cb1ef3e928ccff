"""Django's ``SECRET_KEY``: ``DAGVIZ_SECRET_KEY``, else one generated once and kept in ``DAGVIZ_HOME/secret_key``.

A key built into the code would let anyone who has read the code forge signed values (sessions,
signed cookies, password-reset tokens), so a home without a configured key gets its own random
key on first start. Every process using the same home (web server, daemon, run workers, a second
server started at the same moment) must agree on it, hence one file created atomically: the
first process to publish it wins and every other one reads the winner's key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_ENV_VAR = "DAGVIZ_SECRET_KEY"
SECRET_KEY_FILE = "secret_key"


def secret_key(home: Path) -> str:
    """The key to use: the environment variable when set, else the home's key file (created if missing)."""
    configured = os.environ.get(SECRET_KEY_ENV_VAR, "")
    if configured:
        return configured
    path = home / SECRET_KEY_FILE
    if not path.exists():
        publish_new_key(path)
    return read_key(path)


def publish_new_key(path: Path) -> None:
    """Write a fresh random key to ``path`` unless another process got there first.

    The key goes to a private temporary file (created with ``O_CREAT | O_EXCL`` and mode 0600, so it
    is never readable by others), which is then hard-linked to ``path``: the link either creates
    ``path`` complete or fails because it exists, so no process can read a half-written key and two
    processes starting together end up with the same one.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")  # never a leftover's name
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise ImproperlyConfigured(
            f"Cannot create the secret key file {path} ({error}). Make {path.parent} writable by this user "
            f"for the first start, or set {SECRET_KEY_ENV_VAR}."
        ) from None
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(50))  # 400 random bits
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process published its key first: everyone uses that one
    finally:
        temporary.unlink(missing_ok=True)


def read_key(path: Path) -> str:
    """The key stored in ``path``; a clear error when it cannot be read or is empty."""
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ImproperlyConfigured(
            f"Cannot read the secret key file {path} ({error}). Make it readable by this user, delete it "
            f"to have a new key generated (signed-in sessions end), or set {SECRET_KEY_ENV_VAR}."
        ) from None
    if not key:
        raise ImproperlyConfigured(
            f"The secret key file {path} is empty. Delete it to have a new key generated "
            f"(signed-in sessions end), or set {SECRET_KEY_ENV_VAR}."
        )
    return key
