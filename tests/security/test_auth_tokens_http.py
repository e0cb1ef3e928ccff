"""API tokens over HTTP with ``DAGVIZ_AUTH`` on: ``Authorization: Bearer`` signs a script in; a bad token is a 401.

Most checks use Django's test client (the whole middleware stack); the last one talks to a real
daphne server started with ``DAGVIZ_AUTH=on``, as a script would.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.test import override_settings

from runs.auth.accounts import add_user
from runs.auth.roles import Role
from runs.auth.tokens import create_token, revoke_token
from runs.models import ApiToken
from tests.security.auth_server import auth_server  # noqa: F401  (a fixture)

PASSWORD = "a long enough passphrase"
QUERY = {"query": "{ __typename }"}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token():
    user = add_user("robot", Role.VIEWER, PASSWORD).user
    return create_token(user, "ci")


def graphql(client, raw: str | None, body: dict = QUERY):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"} if raw is not None else {}
    return client.post("/graphql", json.dumps(body), content_type="application/json", **headers)


@override_settings(DAGVIZ_AUTH=True)
def test_a_bearer_token_answers_a_json_graphql_query_and_records_its_use(client, token):
    record, raw = token
    answer = graphql(client, raw)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"data": {"__typename": "Query"}}
    assert ApiToken.objects.get(pk=record.pk).last_used_at is not None


@override_settings(DAGVIZ_AUTH=True)
def test_a_bearer_token_opens_the_pages_too(client, token):
    answer = client.get("/runs/", HTTP_AUTHORIZATION=f"Bearer {token[1]}", HTTP_ACCEPT="text/html")
    assert answer.status_code == 200


@override_settings(DAGVIZ_AUTH=True)
@pytest.mark.parametrize("bad", ["dgv_not-a-token", "x" * 500, "revoked"])
def test_an_unknown_or_revoked_token_is_a_401_at_once(client, token, bad):
    record, raw = token
    if bad == "revoked":
        revoke_token(record.pk)
        bad = raw
    for answer in (graphql(client, bad), client.get("/runs/", HTTP_AUTHORIZATION=f"Bearer {bad}",
                                                    HTTP_ACCEPT="text/html")):
        assert answer.status_code == 401
        assert "invalid or revoked" in answer.json()["errors"][0]["message"]
        assert answer["WWW-Authenticate"].startswith("Bearer")


@override_settings(DAGVIZ_AUTH=True)
def test_a_deactivated_users_token_is_refused(client, token):
    record, raw = token
    record.user.is_active = False
    record.user.save()
    assert graphql(client, raw).status_code == 401


@override_settings(DAGVIZ_AUTH=False)
def test_with_auth_off_the_header_is_ignored(client):
    answer = graphql(client, "dgv_not-a-token")
    assert answer.status_code == 200 and answer.json() == {"data": {"__typename": "Query"}}


def test_only_a_digest_of_the_token_is_stored(token):
    record, raw = token
    stored = ApiToken.objects.filter(pk=record.pk).values().get()
    assert raw not in json.dumps(stored, default=str)
    assert stored["digest"] != raw and len(stored["digest"]) == 64
    with connection.cursor() as cursor:  # nothing else in the table holds it either
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        assert not any(raw in str(value) for row in cursor.fetchall() for value in row)


def test_a_script_with_a_token_talks_to_a_real_server(auth_server, token):
    record, raw = token
    request = urllib.request.Request(f"{auth_server.base}/graphql", data=json.dumps(QUERY).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {raw}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        assert json.loads(answer.read()) == {"data": {"__typename": "Query"}}
    revoke_token(record.pk)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
