"""Admins list and revoke API tokens in Django's admin site; the secret is never shown there."""

import pytest
from django.contrib.auth.models import User

from runs.auth.tokens import create_token, user_for_token
from runs.models import ApiToken

pytestmark = pytest.mark.django_db


def test_an_admin_lists_tokens_without_their_secret_and_revokes_one(client):
    admin = User.objects.create_superuser("root", password="x-unused-x")
    owner = User.objects.create_user("script-owner")
    token, raw = create_token(owner, name="nightly")
    client.force_login(admin)

    listing = client.get("/admin/runs/apitoken/")
    assert listing.status_code == 200
    assert b"nightly" in listing.content and raw.encode() not in listing.content
    assert token.digest.encode() not in listing.content

    answer = client.post("/admin/runs/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert answer.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert user_for_token(raw) is None


def test_tokens_cannot_be_added_in_the_admin(client):
    client.force_login(User.objects.create_superuser("root", password="x-unused-x"))
    assert client.get("/admin/runs/apitoken/add/").status_code == 403
