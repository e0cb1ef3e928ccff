"""The ``dagviz`` command: serve the UI on your own code, list and run jobs, manage recorded runs.

    dagviz dev [-f FILE.py]... [-m MODULE]... [-w workspace.yaml] [--host 127.0.0.1] [--port 3000]
    dagviz jobs [-f FILE.py | -m MODULE | -w workspace.yaml]
    dagviz execute [-f FILE.py | -m MODULE] -j JOB [-c run_config.yaml] [--executor ...]
                   [--op-selection 'op,*op,op+,graph.op'] [--ephemeral]
    dagviz launch | reexecute | terminate | runs | show-run | migrate ...   (as ``manage.py``; --help on each)
    dagviz users add|list|remove ... | dagviz tokens create|list|revoke ...  (who may sign in; API tokens)
    dagviz webserver [--host] [--port] | dagviz daemon                     (the two processes of a deployment)

Every command uses the database and files of ``DAGVIZ_HOME`` (default ``./.dagviz``) or
``DATABASE_URL``, so runs executed here show in the UI. Without ``-f``/``-m``/``-w``, the
workspace is ``./workspace.yaml`` if there is one, else ``DAGVIZ_WORKSPACE``.

Exit status: 0 success, 1 the run failed, 2 bad input (unknown job, invalid config, unreadable file).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Sequence

from dagviz.config.run_config import load_run_config
from dagviz.errors import DagvizError, InvalidConfigError
from dagviz.execution.api import execute_job
from dagviz.execution.events import StepFailed
from dagviz.execution.output_preview import output_preview
from dagviz.progress import ProgressLine, summary_table
from dagviz.workspace import Workspace
from dagviz.workspace_file import apply_workspace, resolve_workspace, workspace_entries

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT = 0, 1, 2
PREVIEW_CHARS = 300
# Commands that are the web app's management commands, with their flags and JSON output.
DJANGO_COMMANDS = {"launch": "launch", "reexecute": "reexecute", "terminate": "terminate", "runs": "runs",
                   "show-run": "show_run", "migrate": "migrate", "users": "users", "tokens": "tokens"}
# They need no workspace, and `-f`/`-m`/`-w` must not be taken out of them (`--password -mypass`).
ACCOUNT_COMMANDS = frozenset({"users", "tokens"})


class BadInput(Exception):
    """A problem with what the user typed; printed as one error and exit status 2."""


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--python-file", "--file", dest="file", action="append", default=[],
                        help="Python file defining jobs (repeatable)")
    parser.add_argument("-m", "--module-name", "--module", dest="module", action="append", default=[],
                        help="Python module defining jobs (repeatable)")
    parser.add_argument("-w", "--workspace", help="workspace.yaml in Dagster's format (load_from: python_file, "
                                                  "python_module)")


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    from dagviz.server.commands import DEFAULT_PORT

    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", "-p", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--allow-unauthenticated", action="store_true",
                        help="serve a non-loopback --host with DAGVIZ_AUTH off: anyone who reaches it can do anything")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dagviz", description="Run pipelines whose shape is known only at run time.")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="serve the web UI on your jobs, with the daemon, reloading on changes")
    _add_source_arguments(dev)
    _add_server_arguments(dev)
    webserver = commands.add_parser("webserver", help="serve the web UI, GraphQL and websockets (deployments)")
    _add_source_arguments(webserver)
    _add_server_arguments(webserver)
    webserver.add_argument("--proxy-headers", action="store_true",
                           help="behind a reverse proxy: take the client's address and scheme from X-Forwarded-*")
    daemon = commands.add_parser("daemon", help="watch runs and start queued ones (deployments)")
    _add_source_arguments(daemon)
    for name in DJANGO_COMMANDS:
        commands.add_parser(name, help=f"as `manage.py {DJANGO_COMMANDS[name]}`; see `dagviz {name} --help`")
    jobs = commands.add_parser("jobs", help="list the jobs of a module or file")
    _add_source_arguments(jobs)
    execute = commands.add_parser("execute", help="run a job in this terminal, recorded in DAGVIZ_HOME")
    _add_source_arguments(execute)
    execute.add_argument("-j", "--job", help="job name (optional when the source defines one job)")
    execute.add_argument("-c", "--config", help="run config file (YAML or JSON)")
    execute.add_argument("--executor", choices=["in_process", "multiprocess", "dask"],
                         help="overrides the run config's execution section (default in_process)")
    execute.add_argument("--op-selection", help="ops to execute, comma-separated: op, *op (with upstream), "
                                                "op+ (one level downstream), graph.op; default: the whole job")
    execute.add_argument("--ephemeral", action="store_true",
                         help="keep the run in memory only: not recorded, not shown in the UI")
    return parser


def _use_workspace(args: argparse.Namespace) -> list[str]:
    """Apply the workspace the arguments name (see ``resolve_workspace``); returns its entries."""
    spec = resolve_workspace(args.file, args.module, args.workspace)
    if spec is not None:
        apply_workspace(spec)
    return workspace_entries()


def _load_workspace(args: argparse.Namespace) -> Workspace:
    workspace = Workspace.from_entries(_use_workspace(args))
    if workspace.errors and not workspace.jobs:
        raise BadInput("\n".join(workspace.errors.values()))
    for entry, error in workspace.errors.items():
        print(f"warning: {entry} failed to load:\n{error}", file=sys.stderr)
    return workspace


def cmd_jobs(args: argparse.Namespace) -> int:
    workspace = _load_workspace(args)
    if not workspace.jobs:
        print("No jobs found.")
        return EXIT_OK
    width = max(len(name) for name in workspace.jobs)
    for name, job in sorted(workspace.jobs.items()):
        shape = "fans out" if job.is_dynamic else "static"
        print(f"{name:<{width}}  {len(job.nodes):>3} ops  {shape:<8}  {(job.description or '').splitlines()[0] if job.description else ''}")
    return EXIT_OK


def cmd_execute(args: argparse.Namespace) -> int:
    workspace = _load_workspace(args)
    if args.job is None:
        if len(workspace.jobs) != 1:
            raise BadInput(f"choose a job with -j (jobs: {', '.join(sorted(workspace.jobs)) or 'none'})")
        args.job = next(iter(workspace.jobs))
    job = workspace.get(args.job)
    run_config = load_run_config(args.config)
    progress = ProgressLine()
    op_selection = [query for query in re.split(r"[,\s]+", args.op_selection or "") if query] or None
    if args.ephemeral:
        result = execute_job(job, run_config, executor=args.executor, pointer=workspace.pointers[job.name],
                             sink=progress, op_selection=op_selection)
    else:
        from dagviz.server.bootstrap import setup_django

        setup_django()
        from runs.services.local_run import execute_local_run

        result = execute_local_run(job, run_config, None, pointer=workspace.pointers[job.name],
                                   op_selection=op_selection, executor=args.executor, sink=progress)
    _print_summary(result, progress)
    return EXIT_OK if result.success else EXIT_RUN_FAILED


def _print_summary(result, progress: ProgressLine) -> None:  # type: ignore[no-untyped-def]
    status = "SUCCESS" if result.success else "FAILURE"
    elapsed = progress.render().split("]")[0].strip("[ ")
    print(f"Run {result.run_id} of job '{result.job.name}': {status} in {elapsed}")
    print("\n".join(summary_table(result.steps, list(result.job.nodes))))
    failures = [event for event in result.events if isinstance(event, StepFailed)]
    if failures:
        print(f"Failures ({len(failures)}):")
        for event in failures:
            error = event.error
            print(f"  {event.step_key}: {error.class_name}: {error.message}" if error else f"  {event.step_key}")
    if result.success:
        from dagviz.execution.orchestrator import plan_index

        print("Result:")
        for node in plan_index(result.job).leaf_nodes():
            for output in result.job.nodes[node].op.outs:
                try:
                    value = result.output_for_node(node, output)
                except DagvizError:
                    continue
                print(f"  {node}: {output_preview(value, PREVIEW_CHARS)}")
    elif result.failure_reason:
        print(f"Reason: {result.failure_reason}")


def cmd_dev(args: argparse.Namespace) -> int:
    from dagviz.server.commands import dev

    _use_workspace(args)
    return dev(args.host, args.port, workspace_entries(), args.workspace,
               allow_unauthenticated=args.allow_unauthenticated)


def cmd_webserver(args: argparse.Namespace) -> int:
    from dagviz.server.commands import webserver

    _use_workspace(args)
    return webserver(args.host, args.port, args.proxy_headers, allow_unauthenticated=args.allow_unauthenticated)


def cmd_daemon(args: argparse.Namespace) -> int:
    from dagviz.server.commands import daemon

    _use_workspace(args)
    return daemon()


def run_django_command(name: str, argv: list[str]) -> int:
    """``dagviz launch ...`` runs ``manage.py launch ...``: the same flags, output and exit status.

    ``-f``/``-m``/``-w`` before or among the command's own arguments choose the workspace (not for
    ``users`` and ``tokens``, which need none). The
    database is created or migrated first, as for ``dagviz execute``.
    """
    rest = argv
    if name not in ACCOUNT_COMMANDS:
        workspace_parser = argparse.ArgumentParser(add_help=False)
        _add_source_arguments(workspace_parser)
        known, rest = workspace_parser.parse_known_args(argv)
        _use_workspace(known)
    from dagviz.server.bootstrap import configure_django, setup_django

    if name == "migrate":
        configure_django()
    else:
        setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["dagviz", DJANGO_COMMANDS[name], *rest])
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DJANGO_COMMANDS:
        return run_django_command(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    commands = {"jobs": cmd_jobs, "execute": cmd_execute, "dev": cmd_dev, "webserver": cmd_webserver,
                "daemon": cmd_daemon}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        return 130
    except InvalidConfigError as error:
        print(f"error: {error}", file=sys.stderr)
    except (BadInput, DagvizError) as error:
        print(f"error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
