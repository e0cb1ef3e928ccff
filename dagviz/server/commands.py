"""The long-running commands: ``dagviz dev``, ``dagviz webserver`` and ``dagviz daemon``.

``dev`` is the three in one terminal: it brings the home up to date, starts the daemon as a
child process, serves the UI, GraphQL and websockets from this process (daphne), and reloads
the workspace when its files change. Ctrl-C or SIGTERM stops the server, the daemon and the
runs this server's workers were executing (they end CANCELED), within ``STOP_SECONDS``.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from dagviz.errors import DagvizError
from dagviz.server.bootstrap import collect_static, configure_django, migrate, unapplied_migrations

STOP_SECONDS = 10.0
RUN_STOP_GRACE_SECONDS = 5.0
DEFAULT_PORT = 3000


class ServerStartError(DagvizError):
    """The server cannot start: the port is taken, the database is not migrated, ..."""


def check_port_free(host: str, port: int) -> None:
    """Fail at once, with the reason, when ``host:port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ServerStartError(f"Cannot listen on {host}:{port}: {error.strerror}. "
                                   "Is another server running there? Choose another port with --port.") from None


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``: a loopback address, or the name ``localhost``."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def refuse_open_access(host: str, allow_unauthenticated: bool) -> None:
    """Refuse to serve other machines with authentication off, unless the user says so explicitly.

    With ``DAGVIZ_AUTH`` off anyone who reaches the server can launch runs of the workspace's code,
    so a non-loopback address needs ``DAGVIZ_AUTH=on`` or ``--allow-unauthenticated``.
    """
    from django.conf import settings

    if settings.DAGVIZ_AUTH or allow_unauthenticated or is_loopback(host):
        return
    raise ServerStartError(
        f"Refusing to listen on {host} with authentication off: anyone who reaches it could run code. "
        "Set DAGVIZ_AUTH=on (and create a user with `dagviz users add NAME --role admin`), "
        "or pass --allow-unauthenticated if something in front of dagviz authenticates.")


def warn_if_no_users() -> None:
    """With authentication on, say how to create the first user if nobody could sign in yet."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from runs.auth.roles import ROLE_ORDER

    if not settings.DAGVIZ_AUTH:
        return
    active = get_user_model().objects.filter(is_active=True)
    roles = Group.objects.filter(name__in=[role.value for role in ROLE_ORDER])
    if not (active.filter(is_superuser=True).exists() or active.filter(groups__in=roles).exists()):
        print("warning: DAGVIZ_AUTH is on but no active user has a role, so nobody can sign in; create one "
              "with `dagviz users add NAME --role admin`.", file=sys.stderr)


def warn_if_exposed(host: str) -> None:
    if not is_loopback(host):
        print(f"warning: listening on {host}, reachable from other machines; set DAGVIZ_ALLOWED_HOSTS to the "
              "names clients use, and see docs/deploy.md before exposing a server.", file=sys.stderr)


def serve(host: str, port: int, ready: Callable[[], None] | None = None, proxy_headers: bool = False) -> None:
    """Serve the ASGI application (HTTP and websockets) until SIGINT or SIGTERM.

    With ``proxy_headers``, the client's address and scheme come from the reverse proxy's
    ``X-Forwarded-For`` / ``X-Forwarded-Port`` / ``X-Forwarded-Proto`` headers.
    """
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    from dagviz.server.asgi import application

    forwarded = {"proxy_forwarded_address_header": "X-Forwarded-For", "proxy_forwarded_port_header":
                 "X-Forwarded-Port", "proxy_forwarded_proto_header": "X-Forwarded-Proto"} if proxy_headers else {}
    Server(application=application, endpoints=build_endpoint_description_strings(host=host, port=port),
           ready_callable=ready, verbosity=0, **forwarded).run()


def require_migrated() -> None:
    """A deployment's webserver and daemon do not migrate by themselves (replicas would race): they refuse."""
    missing = unapplied_migrations()
    if missing:
        raise ServerStartError(f"The database lacks {len(missing)} migration(s) ({', '.join(missing[:3])}"
                               f"{', ...' if len(missing) > 3 else ''}); run `dagviz migrate` first.")


def webserver(host: str, port: int, proxy_headers: bool = False, allow_unauthenticated: bool = False) -> int:
    configure_django()
    refuse_open_access(host, allow_unauthenticated)
    check_port_free(host, port)
    warn_if_exposed(host)
    require_migrated()
    warn_if_no_users()
    collect_static()
    serve(host, port, ready=lambda: _announce(f"dagviz webserver: serving http://{_url_host(host)}:{port}/"),
          proxy_headers=proxy_headers)
    return 0


def daemon() -> int:
    """Watch runs (dead workers, cancel grace) and start queued ones, until SIGINT or SIGTERM."""
    from django.core.management import call_command

    configure_django()
    require_migrated()
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        call_command("monitor_runs")
    except KeyboardInterrupt:
        pass
    return 0


def dev(host: str, port: int, entries: list[str], workspace_file: str | None = None,
        allow_unauthenticated: bool = False) -> int:
    """Everything for working on jobs locally: server, daemon and code reload on one home."""
    from django.conf import settings

    configure_django()
    refuse_open_access(host, allow_unauthenticated)
    check_port_free(host, port)
    warn_if_exposed(host)
    prepare_home()
    warn_if_no_users()
    daemon_process = _start_daemon()
    from dagviz.server.reload import WorkspaceWatcher

    watcher = WorkspaceWatcher(entries, workspace_file)
    watcher.start()
    url = f"http://{_url_host(host)}:{port}/"
    try:
        serve(host, port, ready=lambda: _announce(
            f"dagviz dev: serving {url}\n  home: {settings.DAGVIZ_HOME}\n"
            f"  jobs from: {', '.join(settings.DAGVIZ_WORKSPACE)}\n  press Ctrl-C to stop"))
    finally:
        deadline = time.monotonic() + STOP_SECONDS
        watcher.stop()
        _stop_process(daemon_process, deadline)
        stop_runs_of_this_host(deadline)
    return 0


def prepare_home() -> None:
    """Migrate and collect static files side by side: on a new home they are most of the start-up time."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        collecting = pool.submit(collect_static)
        migrate()
        collecting.result()


def _start_daemon() -> subprocess.Popen:
    # The daemon is a separate process (as in a deployment), in this process group, so Ctrl-C reaches it too.
    return subprocess.Popen([sys.executable, "-m", "dagviz.cli", "daemon"], env=dict(os.environ),
                            stdin=subprocess.DEVNULL)


def _stop_process(process: subprocess.Popen, deadline: float) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=max(0.1, min(deadline - time.monotonic(), STOP_SECONDS / 2)))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_runs_of_this_host(deadline: float) -> list[str]:
    """Cancel the runs whose workers run on this host, and kill the workers still alive near ``deadline``.

    Workers run in their own sessions (a run outlives a restarted deployment webserver), so
    ``dev`` stops them itself: nothing it started is left behind.
    """
    from runs.models import ACTIVE_STATUSES, Run
    from runs.services.monitor import end_orphaned_run
    from runs.services.terminate import terminate_run
    from runs.services.worker_process import OURS, worker_process_state

    active = [run for run in Run.objects.filter(status__in=ACTIVE_STATUSES) if worker_process_state(run) == OURS]
    for run in active:
        try:
            terminate_run(str(run.id))
        except DagvizError:
            pass  # it finished meanwhile
    grace_end = min(deadline - 1.0, time.monotonic() + RUN_STOP_GRACE_SECONDS)
    while active and time.monotonic() < grace_end:
        active = [run for run in active if worker_process_state(run) == OURS]
        time.sleep(0.1)
    for run in Run.objects.filter(id__in=[run.id for run in active], status__in=ACTIVE_STATUSES):
        end_orphaned_run(run, "dagviz dev stopped before the run finished.")
    return [str(run.id) for run in active]


def _announce(text: str) -> None:
    print(text, flush=True)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _exit_quietly(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
