"""API tokens: random secrets shown once, kept as SHA-256 digests, revocable, with a last-used time.

A token has 256 random bits, so a fast digest is as safe as a slow password hash (there is
nothing to guess from a dictionary) and lets each request be checked with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from runs.models import ApiToken

TOKEN_PREFIX = "dgv_"
BEARER = "bearer"
MAX_TOKEN_CHARS = 200  # a longer header value is not one of our tokens; never hash unbounded input
# last_used_at is written at most this often per token, so a busy script does not write on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class UnknownTokenError(LookupError):
    """No token has this id."""


def digest_of(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def create_token(user: AbstractBaseUser, name: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user``: the stored record and the secret, which is never available again."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, digest=digest_of(raw))
    return token, raw


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` value, or None if the value is not of that form."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != BEARER or not credentials:
        return None
    return credentials


def user_for_token(raw_token: str) -> AbstractBaseUser | None:
    """The active user a live token belongs to, or None (unknown, revoked, or the user is inactive).

    Records when the token was used (at most once per ``LAST_USED_RESOLUTION``).
    """
    if not raw_token or len(raw_token) > MAX_TOKEN_CHARS or "\x00" in raw_token:
        return None
    token = (ApiToken.objects.select_related("user")
             .filter(digest=digest_of(raw_token), revoked_at__isnull=True).first())
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        (ApiToken.objects.filter(pk=token.pk)
         .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION))
         .update(last_used_at=now))
    return token.user


def revoke_token(token_id: int | str) -> ApiToken:
    """Revoke the token with this id (revoking twice keeps the first time); UnknownTokenError if none."""
    try:
        token = ApiToken.objects.get(pk=int(token_id))
    except (ValueError, ApiToken.DoesNotExist):
        raise UnknownTokenError(f"No API token has id {token_id!r}; `dagviz tokens list` shows them.") from None
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
