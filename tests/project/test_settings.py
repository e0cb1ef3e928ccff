"""The Django project wiring: settings from the environment, database, home, health check."""

from __future__ import annotations

import json
import asyncio
import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client

from dagviz.env import env_bool, env_int, env_list, env_str
from dagviz.home import dagviz_home, default_output_store_url, ensure_dagviz_home
from dagviz.server.settings import channel_layer_settings, database_settings


def test_system_checks_pass() -> None:
    call_command("check")


def test_tests_run_in_a_temporary_dagviz_home_not_the_working_directory() -> None:
    home = Path(os.environ["DAGVIZ_HOME"]).resolve()
    assert settings.DAGVIZ_HOME == home == dagviz_home()
    assert home != (Path.cwd() / ".dagviz").resolve()
    assert Path(settings.STATIC_ROOT) == home / "static"


def test_no_setting_still_points_at_the_working_directory_home() -> None:
    """Guards tests/conftest.py: a new setting derived from DAGVIZ_HOME must follow it too."""
    if Path(os.environ["DAGVIZ_HOME"]).resolve() == (Path.cwd() / ".dagviz").resolve():
        pytest.skip("DAGVIZ_HOME was exported as the working directory's .dagviz")
    stale_home = str((Path.cwd() / ".dagviz").resolve())
    stale = [name for name in dir(settings) if name.isupper() and stale_home in str(getattr(settings, name))]
    assert stale == []


@pytest.mark.django_db
def test_a_worker_subprocess_opens_the_database_the_test_uses() -> None:
    """Run workers get DATABASE_URL of the current connection, so they write where the test reads."""
    from django.db import connection

    from runs.services.launch import database_url_for_workers

    script = (
        "import django; django.setup(); from django.db import connection; "
        "print(connection.vendor, connection.settings_dict['NAME'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "dagviz.server.settings", "DATABASE_URL": database_url_for_workers()},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [connection.vendor, str(connection.settings_dict["NAME"])]


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                    reason="this pass runs on DATABASE_URL's database; the SQLite default is checked in the SQLite pass")
@pytest.mark.django_db
def test_default_database_is_sqlite_in_dagviz_home_with_wal() -> None:
    assert connection.vendor == "sqlite"
    database_file = Path(connection.settings_dict["NAME"])
    assert database_file.parent == dagviz_home()
    assert database_file.exists()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        (journal_mode,) = cursor.fetchone()
    assert journal_mode == "wal"


def test_default_database_settings_point_at_home_with_a_file_test_database(tmp_path: Path) -> None:
    config = database_settings(None, tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "dagviz.sqlite3")
    assert config["TEST"]["NAME"] == str(tmp_path / "test_dagviz.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] == 20
    assert "PRAGMA journal_mode=WAL" in config["OPTIONS"]["init_command"]


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_url_gives_postgresql_settings(scheme: str, tmp_path: Path) -> None:
    config = database_settings(f"{scheme}://dagviz:secret@db.example.com:5433/dagviz_prod", tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "dagviz_prod"
    assert config["USER"] == "dagviz"
    assert config["PASSWORD"] == "secret"
    assert config["HOST"] == "db.example.com"
    assert config["PORT"] == 5433
    # SQLite-only options must not leak into PostgreSQL connections.
    assert "transaction_mode" not in config.get("OPTIONS", {})
    assert "TEST" not in config


def test_sqlite_database_url_keeps_the_concurrency_options(tmp_path: Path) -> None:
    config = database_settings(f"sqlite:///{tmp_path}/elsewhere.sqlite3", tmp_path)
    assert config["NAME"] == f"{tmp_path}/elsewhere.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["TEST"]["NAME"] == str(tmp_path / "test_dagviz.sqlite3")


def test_channel_layer_is_in_memory_by_default_and_redis_on_request() -> None:
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    redis = channel_layer_settings("redis", "redis://cache:6379/1")
    assert redis["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert redis["default"]["CONFIG"] == {"hosts": ["redis://cache:6379/1"]}
    # Loading the settings never imports the Redis layer (checked in a fresh interpreter).
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, dagviz.server.settings; print('channels_redis' in sys.modules)"],
        capture_output=True, text=True, check=True, env={**os.environ, "DAGVIZ_CHANNEL_LAYER": "redis"},
    )
    assert probe.stdout.strip() == "False"


def test_unknown_channel_layer_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"DAGVIZ_CHANNEL_LAYER='rabbit'.*'memory' or 'redis'"):
        channel_layer_settings("rabbit", "redis://127.0.0.1:6379/0")


def test_env_int_rejects_a_non_integer_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGVIZ_MAX_CONCURRENT_RUNS", "four")
    with pytest.raises(ValueError, match=r"DAGVIZ_MAX_CONCURRENT_RUNS='four' is not an integer"):
        env_int("DAGVIZ_MAX_CONCURRENT_RUNS", 4)


def test_env_int_reads_integers_and_falls_back_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGVIZ_MAX_CONCURRENT_RUNS", " 8 ")
    assert env_int("DAGVIZ_MAX_CONCURRENT_RUNS", 4) == 8
    monkeypatch.delenv("DAGVIZ_MAX_CONCURRENT_RUNS")
    assert env_int("DAGVIZ_MAX_CONCURRENT_RUNS", 4) == 4


def test_env_bool_accepts_common_spellings_and_rejects_others(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, expected in [("1", True), ("TRUE", True), ("yes", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("DAGVIZ_DEBUG", raw)
        assert env_bool("DAGVIZ_DEBUG", not expected) is expected
    monkeypatch.setenv("DAGVIZ_DEBUG", "maybe")
    with pytest.raises(ValueError, match=r"DAGVIZ_DEBUG='maybe' is not a boolean"):
        env_bool("DAGVIZ_DEBUG", False)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGVIZ_WORKSPACE", " my_jobs , ,other.jobs,")
    assert env_list("DAGVIZ_WORKSPACE", ["dagviz.examples"]) == ["my_jobs", "other.jobs"]
    monkeypatch.setenv("DAGVIZ_WORKSPACE", "")
    assert env_list("DAGVIZ_WORKSPACE", ["dagviz.examples"]) == ["dagviz.examples"]


def test_env_str_treats_empty_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGVIZ_SECRET_KEY", "")
    assert env_str("DAGVIZ_SECRET_KEY", "fallback") == "fallback"


def test_project_defaults_for_workspace_and_concurrency() -> None:
    assert settings.DAGVIZ_WORKSPACE == ["dagviz.examples"]
    assert settings.DAGVIZ_MAX_CONCURRENT_RUNS == 4
    assert settings.ASGI_APPLICATION == "dagviz.server.asgi.application"
    assert settings.INSTALLED_APPS[0] == "daphne"


def test_healthz_returns_ok_json(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"ok": True}


def test_healthz_rejects_writes(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


def test_asgi_application_serves_http() -> None:
    from channels.testing import HttpCommunicator

    from dagviz.server.asgi import application

    async def get_healthz() -> dict:
        communicator = HttpCommunicator(application, "GET", "/healthz", headers=[(b"host", b"localhost")])
        return await communicator.get_response()

    # A thread of its own, so its event loop is independent of whatever earlier tests left running.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        response = pool.submit(asyncio.run, get_healthz()).result(timeout=30)
    assert response["status"] == 200
    assert json.loads(response["body"]) == {"ok": True}


def test_dagviz_home_honours_the_environment_and_is_created_on_demand(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DAGVIZ_HOME", str(tmp_path / "custom-home"))
    assert dagviz_home() == tmp_path / "custom-home"
    assert not dagviz_home().exists()
    assert ensure_dagviz_home().is_dir()


def test_dagviz_home_defaults_to_dot_dagviz_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DAGVIZ_HOME")
    monkeypatch.chdir(tmp_path)
    assert dagviz_home() == tmp_path.resolve() / ".dagviz"


def test_relative_dagviz_home_resolves_against_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DAGVIZ_HOME", "state/dagviz")
    monkeypatch.chdir(tmp_path)
    assert dagviz_home() == tmp_path.resolve() / "state" / "dagviz"


def test_output_store_defaults_to_storage_under_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DAGVIZ_HOME", str(tmp_path))
    monkeypatch.delenv("DAGVIZ_OUTPUT_STORE", raising=False)
    assert default_output_store_url() == f"file://{tmp_path.resolve()}/storage"


def test_output_store_honours_dagviz_output_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGVIZ_OUTPUT_STORE", "s3://bucket/dagviz-outputs")
    assert default_output_store_url() == "s3://bucket/dagviz-outputs"
