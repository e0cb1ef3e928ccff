"""Roles and what each may do; the one place that maps a user to a role and an action to the role it needs.

A user's role is the Django group of that name (``viewer``, ``operator`` or ``admin``); a
superuser is an admin. With ``DAGVIZ_AUTH`` off (loopback only), everyone may do everything.
"""

from __future__ import annotations

import enum

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import transaction


class Role(str, enum.Enum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class Action(str, enum.Enum):
    READ = "read"  # queries and subscriptions
    OPERATE = "operate"  # launch, re-execute, terminate, delete runs, reload the workspace
    ADMINISTER = "administer"  # users and tokens


# Each role may do its own actions and those of the roles before it.
ROLE_ORDER = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
ROLE_NEEDED: dict[Action, Role] = {Action.READ: Role.VIEWER, Action.OPERATE: Role.OPERATOR,
                                   Action.ADMINISTER: Role.ADMIN}


def auth_enabled() -> bool:
    """Whether requests must come from a signed-in user or carry a token (``DAGVIZ_AUTH``)."""
    return bool(settings.DAGVIZ_AUTH)


def parse_role(name: str) -> Role:
    """The role called ``name``; ValueError naming the roles otherwise."""
    try:
        return Role(name)
    except ValueError:
        raise ValueError(f"Unknown role {name!r}; roles: {', '.join(r.value for r in ROLE_ORDER)}.") from None


def role_of(user: AbstractBaseUser | AnonymousUser | None) -> Role | None:
    """The user's role, or None for an anonymous or inactive user or one without a role."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    names = set(user.groups.filter(name__in=[r.value for r in ROLE_ORDER]).values_list("name", flat=True))
    held = [role for role in ROLE_ORDER if role.value in names]
    return held[-1] if held else None


ROLE_ATTRIBUTE = "_dagviz_role"


def role_of_caller(holder: object, user: AbstractBaseUser | AnonymousUser | None) -> Role | None:
    """``role_of(user)``, looked up once per request or websocket operation and kept on ``holder`` (the
    request, or the operation's context), since several checks of one request ask for it."""
    if hasattr(holder, ROLE_ATTRIBUTE):
        return getattr(holder, ROLE_ATTRIBUTE)
    role = role_of(user)
    try:
        setattr(holder, ROLE_ATTRIBUTE, role)
    except AttributeError:  # a holder that takes no attributes (None): look up every time
        pass
    return role


def allows(role: Role | None, action: Action) -> bool:
    """Whether ``role`` may take ``action``."""
    if role is None:
        return False
    return ROLE_ORDER.index(role) >= ROLE_ORDER.index(ROLE_NEEDED[action])


def may(user: AbstractBaseUser | AnonymousUser | None, action: Action) -> bool:
    """Whether ``user`` may take ``action`` now (always, with authentication off)."""
    return not auth_enabled() or allows(role_of(user), action)


def set_role(user: AbstractBaseUser, role: Role) -> None:
    """Give ``user`` exactly ``role`` (the roles' groups are created on first use)."""
    with transaction.atomic():
        groups = [Group.objects.get_or_create(name=r.value)[0] for r in ROLE_ORDER]
        user.groups.remove(*groups)
        user.groups.add(next(g for g in groups if g.name == role.value))


def actor_name(user: AbstractBaseUser | AnonymousUser | None) -> str:
    """The name recorded as who launched or terminated a run: the username, or "" if nobody signed in."""
    if user is None or not user.is_authenticated:
        return ""
    return user.get_username()
