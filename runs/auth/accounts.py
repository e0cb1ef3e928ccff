"""Users with a role, as the ``dagviz users`` command manages them.

A user's role decides Django's flags too: an admin is staff and superuser, so Django's admin site
(tokens, users) works for them; the other roles are neither, so a demoted admin loses both.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from runs.auth.roles import Role, role_of, set_role


class AccountError(ValueError):
    """A request about users that cannot be carried out; its message says why and what to do."""


@dataclass(frozen=True)
class AddResult:
    user: AbstractBaseUser
    role: Role
    created: bool
    password_changed: bool
    reactivated: bool
    password_weaknesses: tuple[str, ...] = ()  # what the validators said of a password that was accepted anyway


def password_weaknesses(password: str, user: AbstractBaseUser) -> tuple[str, ...]:
    """What Django's password validators (``AUTH_PASSWORD_VALIDATORS``) say against ``password``; () if nothing."""
    if not password:
        raise AccountError("The password is empty.")
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        return tuple(error.messages)
    return ()


def add_user(username: str, role: Role, password: str | None, strict: bool = True) -> AddResult:
    """Create ``username`` with ``role``, or give an existing user that role (and ``password`` if given).

    A new user needs a password. An inactive user is reactivated: adding is how a removed user comes back.
    A password the validators refuse is an AccountError when ``strict``; otherwise it is set and the
    result lists the validators' messages (as Django's non-interactive ``createsuperuser`` accepts a
    password given on its command line).
    """
    model = get_user_model()
    username = username.strip()
    if not username:
        raise AccountError("The username is empty.")
    with transaction.atomic():
        user = model.objects.filter(**{model.USERNAME_FIELD: username}).first()
        created = user is None
        if created:
            if password is None:
                raise AccountError("A new user needs a password (--password, or type it when asked).")
            user = model(**{model.USERNAME_FIELD: username})
        weaknesses: tuple[str, ...] = ()
        if password is not None:
            weaknesses = password_weaknesses(password, user)
            if weaknesses and strict:
                raise AccountError(" ".join(weaknesses))
            user.set_password(password)
        reactivated = not created and not user.is_active
        user.is_active = True
        user.is_staff = user.is_superuser = role is Role.ADMIN
        user.save()
        set_role(user, role)
    return AddResult(user, role, created, password is not None, reactivated, weaknesses)


def deactivate_user(username: str) -> int:
    """Deactivate ``username`` and revoke their tokens; returns how many tokens were revoked.

    The user is kept, not deleted, so the runs they launched or terminated still name them.
    """
    user = find_user(username)
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        return user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def find_user(username: str) -> AbstractBaseUser:
    """The user called ``username``; AccountError naming the command that lists users otherwise."""
    model = get_user_model()
    user = model.objects.filter(**{model.USERNAME_FIELD: username}).first()
    if user is None:
        raise AccountError(f"No user named {username!r}; `dagviz users list` shows them.")
    return user


def user_rows() -> list[dict[str, object]]:
    """Every user with their role, whether active, last login and count of live tokens, by username."""
    model = get_user_model()
    users = (model.objects.order_by(model.USERNAME_FIELD)
             .annotate(live_tokens=Count("api_tokens", filter=Q(api_tokens__revoked_at__isnull=True))))
    rows = []
    for user in users:
        # role_of says None for an inactive user; the listing shows the role they would have back.
        role = role_of(user) if user.is_active else _held_role(user)
        rows.append({"username": user.get_username(), "role": role.value if role else None,
                     "is_active": user.is_active,
                     "last_login": user.last_login.isoformat() if user.last_login else None,
                     "tokens": user.live_tokens})
    return rows


def _held_role(user: AbstractBaseUser) -> Role | None:
    user.is_active = True  # only on this in-memory copy, to ask role_of
    try:
        return role_of(user)
    finally:
        user.is_active = False
