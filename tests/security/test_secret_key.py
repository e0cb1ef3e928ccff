"""Django's SECRET_KEY: generated once per home and kept private, unless DAGVIZ_SECRET_KEY sets it.

The settings are imported in fresh interpreters, as ``dagviz dev``, the daemon and run workers start.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dagviz.server.secret_key import SECRET_KEY_ENV_VAR, SECRET_KEY_FILE, secret_key

PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def start_interpreter(home: Path, code: str = PRINT_KEY, **env: str) -> subprocess.Popen:
    """A fresh interpreter with the dagviz settings on ``home`` and no DAGVIZ_SECRET_KEY unless given."""
    environment = {key: value for key, value in os.environ.items() if key != SECRET_KEY_ENV_VAR}
    environment.update(DJANGO_SETTINGS_MODULE="dagviz.server.settings", DAGVIZ_HOME=str(home), **env)
    return subprocess.Popen([sys.executable, "-c", code], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def output_of(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out.strip()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(SECRET_KEY_ENV_VAR, raising=False)
    return tmp_path / "home"


def test_a_fresh_home_gets_a_random_key_in_a_file_only_its_owner_can_read(home):
    home.mkdir()
    key = secret_key(home)
    path = home / SECRET_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key and len(key) >= 64  # 50 random bytes, URL-safe base64
    assert secret_key(home) == key, "a later start must read the same key"
    assert sorted(p.name for p in home.iterdir()) == [SECRET_KEY_FILE], "no temporary file is left behind"
    other = home.parent / "other-home"
    other.mkdir()
    assert secret_key(other) != key, "each home gets its own key"


def test_interpreters_starting_together_on_a_fresh_home_agree_on_one_key(home):
    processes = [start_interpreter(home) for _ in range(2)]
    keys = {output_of(process) for process in processes}
    assert len(keys) == 1, keys
    assert keys == {(home / SECRET_KEY_FILE).read_text()}
    assert output_of(start_interpreter(home)) == keys.pop(), "a later start reads the kept key"


def _key_after_barrier(home: Path, barrier, keys) -> None:
    """In a child process: ask for the key at the same moment as the others; the key, or the error."""
    barrier.wait()
    try:
        keys.put(secret_key(home))
    except Exception as error:  # e.g. a half-written file read as empty: the test shows it
        keys.put(repr(error))


def test_processes_racing_for_the_first_key_all_get_the_winners_key(home):
    home.mkdir()
    context = multiprocessing.get_context("fork")
    barrier, keys = context.Barrier(8), context.Queue()
    processes = [context.Process(target=_key_after_barrier, args=(home, barrier, keys)) for _ in range(8)]
    for process in processes:
        process.start()
    seen = [keys.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    assert set(seen) == {(home / SECRET_KEY_FILE).read_text()}, seen


def test_the_environment_variable_wins_and_no_file_is_written(home):
    assert output_of(start_interpreter(home, DAGVIZ_SECRET_KEY="from-the-environment")) == "from-the-environment"
    assert not (home / SECRET_KEY_FILE).exists()
    output_of(start_interpreter(home))
    assert output_of(start_interpreter(home, DAGVIZ_SECRET_KEY="from-the-environment")) == "from-the-environment"


def test_a_later_start_does_not_import_the_key_generator(home):
    output_of(start_interpreter(home))  # the first start generates the key
    code = "import sys; import dagviz.server.settings; print('django.core.management.utils' in sys.modules)"
    assert output_of(start_interpreter(home, code)) == "False"


def test_an_empty_key_file_is_a_clear_error(home):
    home.mkdir()
    (home / SECRET_KEY_FILE).write_text("\n")
    with pytest.raises(ImproperlyConfigured, match=r"secret key file .*secret_key is empty.*DAGVIZ_SECRET_KEY"):
        secret_key(home)


def test_an_unreadable_key_file_is_a_clear_error_at_start(home):
    home.mkdir()
    (home / SECRET_KEY_FILE).mkdir()  # unreadable as a file even for root, who ignores permission bits
    with pytest.raises(ImproperlyConfigured, match=r"Cannot read the secret key file .*secret_key"):
        secret_key(home)
    process = start_interpreter(home)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "ImproperlyConfigured: Cannot read the secret key file" in err and SECRET_KEY_ENV_VAR in err, err


def test_a_home_where_the_key_cannot_be_created_is_a_clear_error(home):
    with pytest.raises(ImproperlyConfigured, match=r"Cannot create the secret key file .*home.*DAGVIZ_SECRET_KEY"):
        secret_key(home)  # the home directory does not exist
