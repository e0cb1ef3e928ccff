"""``check --deploy`` passes with the production settings of ``docs/deploy.md``; a laptop keeps plain HTTP.

The environment block is read out of the document, so the two cannot drift: only the secret key's
placeholder is replaced (and ``DAGVIZ_HOME`` pointed at a temporary directory). Whatever else the test
process has in its environment is left out of the subprocesses.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
PLACEHOLDER_KEY = "REPLACE-WITH-50-OR-MORE-RANDOM-CHARACTERS"
# What the subprocesses may keep of this process's environment (the interpreter's own needs).
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")

HTTPS_REQUESTS = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="dagviz.example.com")
plain, health = client.get("/graphql"), client.get("/healthz")
behind_tls = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({"plain": [plain.status_code, plain.get("Location")], "health": health.status_code,
                  "hsts": behind_tls.get("Strict-Transport-Security")}))
"""


def documented_env() -> dict[str, str]:
    """The variables of the first ``sh`` block of "## 2. Environment" in docs/deploy.md."""
    section = DEPLOY_DOC.read_text().split("## 2. Environment", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "no ```sh block in the Environment section of docs/deploy.md"
    lines = [line.strip() for line in block.group(1).splitlines()]
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {name: value for name, value in pairs}


def production_env(home: Path, **changes: str) -> dict[str, str]:
    env = {**documented_env(), "DAGVIZ_HOME": str(home), **changes}
    return {**{name: os.environ[name] for name in KEPT if name in os.environ}, **env}


def django_command(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_documented_block_is_the_production_one():
    env = documented_env()
    assert env["DAGVIZ_HTTPS"] == "on" and env["DAGVIZ_AUTH"] == "on" and env["DAGVIZ_DEBUG"] == "false"
    for name in ("DAGVIZ_ALLOWED_HOSTS", "DAGVIZ_CSRF_TRUSTED_ORIGINS", "DAGVIZ_DASK_ADDRESSES",
                 "DAGVIZ_OUTPUT_STORES"):
        assert env[name], name
    assert env["DAGVIZ_SECRET_KEY"] == PLACEHOLDER_KEY


@pytest.mark.timeout(120)
def test_check_deploy_passes_with_the_documented_settings(tmp_path):
    env = production_env(tmp_path / "home", DAGVIZ_SECRET_KEY=secrets.token_urlsafe(50))
    result = django_command(env, "-m", "django", "check", "--deploy", "--fail-level", "WARNING", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.timeout(120)
def test_the_generated_key_passes_and_the_placeholder_does_not(tmp_path):
    env = production_env(tmp_path / "home")
    generated = {name: value for name, value in env.items() if name != "DAGVIZ_SECRET_KEY"}
    result = django_command(generated, "-m", "django", "check", "--deploy", "--fail-level", "WARNING", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr  # DAGVIZ_HOME/secret_key meets W009
    result = django_command(env, "-m", "django", "check", "--deploy", "--fail-level", "WARNING", cwd=tmp_path)
    assert result.returncode != 0 and "security.W009" in result.stderr


@pytest.mark.timeout(120)
def test_with_https_on_plain_http_is_redirected_except_healthz_and_tls_gets_hsts(tmp_path):
    env = production_env(tmp_path / "home", DAGVIZ_SECRET_KEY=secrets.token_urlsafe(50),
                         DATABASE_URL="", DAGVIZ_CHANNEL_LAYER="memory")
    result = django_command(env, "-c", HTTPS_REQUESTS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://dagviz.example.com/graphql"]
    assert seen["health"] == 200  # load balancers check over plain HTTP
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
def test_with_https_off_plain_http_on_loopback_is_served(settings):
    assert not settings.DAGVIZ_HTTPS and not settings.SECURE_SSL_REDIRECT and not settings.SESSION_COOKIE_SECURE
    response = Client(REMOTE_ADDR="127.0.0.1").get("/", HTTP_HOST="127.0.0.1:3000")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
