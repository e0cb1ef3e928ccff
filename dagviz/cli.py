"""The ``dagviz`` command: list jobs and run one in the terminal.

    dagviz jobs [-f FILE.py | -m MODULE]
    dagviz execute (-f FILE.py | -m MODULE) -j JOB [-c run_config.yaml] [--executor in_process|multiprocess|dask]
                   [--op-selection 'op,*op,op+,graph.op']

Exit status: 0 success, 1 the run failed, 2 bad input (unknown job, invalid config, unreadable file).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Sequence

from dagviz.config.run_config import load_run_config
from dagviz.errors import DagvizError, InvalidConfigError
from dagviz.execution.api import execute_job
from dagviz.execution.events import StepFailed
from dagviz.progress import ProgressLine, summary_table
from dagviz.workspace import Workspace

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_WORKSPACE = "dagviz.examples"
PREVIEW_CHARS = 300


class BadInput(Exception):
    """A problem with what the user typed; printed as one error and exit status 2."""


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-f", "--file", action="append", default=[], help="Python file defining jobs")
    source.add_argument("-m", "--module", action="append", default=[], help="Python module defining jobs")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dagviz", description="Run pipelines whose shape is known only at run time.")
    commands = parser.add_subparsers(dest="command", required=True)
    jobs = commands.add_parser("jobs", help="list the jobs of a module or file")
    _add_source_arguments(jobs)
    execute = commands.add_parser("execute", help="run a job in this terminal")
    _add_source_arguments(execute)
    execute.add_argument("-j", "--job", help="job name (optional when the source defines one job)")
    execute.add_argument("-c", "--config", help="run config file (YAML or JSON)")
    execute.add_argument("--executor", choices=["in_process", "multiprocess", "dask"],
                         help="overrides the run config's execution section (default in_process)")
    execute.add_argument("--op-selection", help="ops to execute, comma-separated: op, *op (with upstream), "
                                                "op+ (one level downstream), graph.op; default: the whole job")
    return parser


def _load_workspace(args: argparse.Namespace) -> Workspace:
    if args.file or args.module:
        workspace = Workspace.load(args.module, args.file)
    else:
        entries = [e.strip() for e in os.environ.get("DAGVIZ_WORKSPACE", DEFAULT_WORKSPACE).split(",") if e.strip()]
        workspace = Workspace.from_entries(entries)
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
    result = execute_job(job, run_config, executor=args.executor, pointer=workspace.pointers[job.name], sink=progress,
                         op_selection=op_selection)
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
                    value = repr(result.output_for_node(node, output))
                except DagvizError:
                    continue
                value = value if len(value) <= PREVIEW_CHARS else value[: PREVIEW_CHARS - 3] + "..."
                print(f"  {node}: {value}")
    elif result.failure_reason:
        print(f"Reason: {result.failure_reason}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"jobs": cmd_jobs, "execute": cmd_execute}[args.command](args)
    except InvalidConfigError as error:
        print(f"error: {error}", file=sys.stderr)
    except (BadInput, DagvizError) as error:
        print(f"error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
