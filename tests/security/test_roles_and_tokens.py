"""The rules of roles and tokens, below the HTTP and websocket layers that apply them."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import override_settings

from runs.auth.roles import Action, Role, allows, may, parse_role, role_of, set_role
from runs.auth.tokens import UnknownTokenError, bearer_token, create_token, digest_of, revoke_token, user_for_token
from runs.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role, read, operate, administer", [
    (Role.VIEWER, True, False, False),
    (Role.OPERATOR, True, True, False),
    (Role.ADMIN, True, True, True),
    (None, False, False, False),
])
def test_each_role_may_do_its_own_actions_and_those_of_the_roles_below(role, read, operate, administer):
    assert [allows(role, a) for a in (Action.READ, Action.OPERATE, Action.ADMINISTER)] == [read, operate, administer]


def test_a_user_holds_exactly_the_role_last_given():
    user = User.objects.create_user("ann")
    assert role_of(user) is None
    set_role(user, Role.ADMIN)
    set_role(user, Role.VIEWER)
    assert role_of(user) is Role.VIEWER
    assert role_of(User.objects.create_superuser("root", password="x")) is Role.ADMIN
    user.is_active = False
    assert role_of(user) is None
    assert role_of(AnonymousUser()) is None


def test_an_unknown_role_names_the_roles():
    with pytest.raises(ValueError, match="viewer, operator, admin"):
        parse_role("superuser")


def test_with_authentication_off_everyone_may_do_everything_and_on_only_by_role():
    viewer = User.objects.create_user("vic")
    set_role(viewer, Role.VIEWER)
    with override_settings(DAGVIZ_AUTH=False):
        assert may(AnonymousUser(), Action.OPERATE)
    with override_settings(DAGVIZ_AUTH=True):
        assert not may(AnonymousUser(), Action.READ)
        assert may(viewer, Action.READ) and not may(viewer, Action.OPERATE)


def test_a_token_is_kept_only_as_its_digest_and_acts_as_its_user():
    user = User.objects.create_user("ops")
    token, raw = create_token(user, name="ci")
    assert raw.startswith("dgv_") and len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.digest == digest_of(raw) and raw not in stored.digest
    assert user_for_token(raw) == user
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


@pytest.mark.parametrize("header, expected", [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), ("", None), (None, None),
])
def test_bearer_header_parsing(header, expected):
    assert bearer_token(header) == expected


def test_revoked_unknown_oversized_and_inactive_users_tokens_act_as_nobody():
    user = User.objects.create_user("gone")
    token, raw = create_token(user)
    other, other_raw = create_token(User.objects.create_user("left", is_active=False))
    assert user_for_token(other_raw) is None
    assert user_for_token("dgv_" + "x" * 10_000) is None
    assert user_for_token("dgv_\x00") is None
    first = revoke_token(token.pk).revoked_at
    assert revoke_token(str(token.pk)).revoked_at == first
    assert user_for_token(raw) is None
    with pytest.raises(UnknownTokenError, match="tokens list"):
        revoke_token(999_999)
    with pytest.raises(UnknownTokenError):
        revoke_token("not-a-number")
