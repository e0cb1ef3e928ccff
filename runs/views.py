"""HTTP views of the runs app: the health check and the pages of the web UI.

Pages are server-rendered shells. The data a page needs to draw at once is read through
the GraphQL schema itself (the same query the browser would send) and embedded as JSON,
so the first paint needs no round trip; ES modules then keep the page live over the
graphql-transport-ws subscriptions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from runs.errors import UnknownRunError
from runs.graphql.api import schema
from runs.models import ACTIVE_STATUSES, Run, RunStatus
from runs.services.run_tags import MAX_TAG_KEY_LENGTH
from runs.services.runs import get_run
from runs.workspace import get_workspace

RUNS_PAGE_SIZE = 50
RECENT_RUNS = 10

JOB_QUERY = """
query JobPage($name: String!) {
  job(name: $name) {
    name description isDynamic tags configSchema defaultRunConfig
    graph { nodes { name opName description isDynamicMapped isDynamicCollect mappingDepth
                    outputs { name isDynamic } inputs { name fromNode fromOutput kind minSuccessRatio } } }
  }
}"""

RUN_QUERY = """
query RunPage($id: ID!) {
  run(id: $id) {
    id jobName status executor opSelection createdAt startedAt endedAt durationMs parentRunId rootRunId childRunIds
    failureReason tags launchedBy terminatedBy toleratedFailures
    nodeStats { node total pending running succeeded failed skipped reused canceled }
  }
}"""

FROM_RUN_QUERY = """
query LaunchFromRun($id: ID!) {
  run(id: $id) { id jobName executor opSelection runConfig tags }
}"""

RUNS_QUERY = """
query RunList($status: [RunStatus!], $jobName: String, $first: Int, $after: String) {
  runs(status: $status, jobName: $jobName, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id jobName status createdAt startedAt endedAt durationMs parentRunId rootRunId childRunIds
      toleratedFailures } }
  }
}"""


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Report that the web process is up, for load balancers and CI readiness checks."""
    return JsonResponse({"ok": True})


def _query(query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
    """The data of a GraphQL query run in-process; None when it failed (e.g. an unknown job)."""
    result = schema.execute(query, variable_values=variables)
    if result.errors:
        return None
    return result.data


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def format_duration(ms: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``; an empty string when unknown."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    """A run of the API shaped for the run tables of the templates."""
    return {
        **run,
        "created": _parse_time(run["createdAt"]),
        "started": _parse_time(run["startedAt"]),
        "duration": format_duration(run["durationMs"]),
        "active": run["status"] not in (RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED),
    }


@ensure_csrf_cookie
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Jobs of the workspace (with their last run's status), recent runs and workspace load errors."""
    workspace = get_workspace()
    jobs = []
    for name in sorted(workspace.jobs):
        job = workspace.jobs[name]
        last = Run.objects.filter(job_name=name).order_by("-created_at").only("id", "status").first()
        jobs.append({
            "name": name,
            "description": job.description or "",
            "op_count": len(job.nodes),
            "fans_out": any(spec.scope for spec in job.nodes.values()),
            "last_run": last,
            "last_run_active": bool(last and last.status in (*ACTIVE_STATUSES, RunStatus.QUEUED)),
        })
    data = _query(RUNS_QUERY, {"first": RECENT_RUNS}) or {"runs": {"edges": []}}
    runs = [_run_row(edge["node"]) for edge in data["runs"]["edges"]]
    errors = [{"location": where, "message": text} for where, text in workspace.errors.items()]
    return render(request, "runs/home.html", {"jobs": jobs, "runs": runs, "workspace_errors": errors})


def _job_or_404(name: str) -> dict[str, Any]:
    data = _query(JOB_QUERY, {"name": name})
    if not data or not data.get("job"):
        raise Http404(f"Unknown job '{name}'.")
    return data["job"]


@ensure_csrf_cookie
@require_safe
def job_graph(request: HttpRequest, name: str) -> HttpResponse:
    """The graph explorer of one job."""
    job = _job_or_404(name)
    return render(request, "runs/job.html", {"job": job, "page_data": {"job": job}})


@ensure_csrf_cookie
@require_safe
def launchpad(request: HttpRequest, name: str) -> HttpResponse:
    """The launchpad: a YAML editor prefilled with the job's default run config (or with the config, tags and
    op selection of the run ``?fromRun=<id>``), op selection, tags, and Launch (always a new run)."""
    job = _job_or_404(name)
    from dagviz.execution.executors import EXECUTOR_NAMES

    from_run, from_run_error = _launch_source(job["name"], request.GET.get("fromRun"))
    return render(request, "runs/launchpad.html", {
        "job": job, "executors": EXECUTOR_NAMES, "from_run": from_run, "from_run_error": from_run_error,
        "max_tag_key_length": MAX_TAG_KEY_LENGTH,
        "page_data": {"job": job, "fromRun": from_run},
    })


def _launch_source(job_name: str, run_id: str | None) -> tuple[dict[str, Any] | None, str]:
    """The run a launchpad starts from (None for the job's defaults) and why it cannot be used ("" when it can)."""
    if not run_id:
        return None, ""
    run = (_query(FROM_RUN_QUERY, {"id": run_id}) or {}).get("run")
    if run is None:
        return None, f"Run '{run_id[:40]}' does not exist (deleted?): the launchpad starts from the job's defaults."
    if run["jobName"] != job_name:
        return None, (f"Run '{run_id}' is a run of '{run['jobName']}', not of '{job_name}': the launchpad starts "
                      "from the job's defaults.")
    return run, ""


@ensure_csrf_cookie
@require_safe
def run_list(request: HttpRequest) -> HttpResponse:
    """Runs, newest first, filtered by status and job, one page at a time (``?after=<run id>``)."""
    statuses = [value for value in request.GET.getlist("status") if value in RunStatus.values]
    job_name = request.GET.get("job") or None
    after = request.GET.get("after") or None
    data = _query(RUNS_QUERY, {"status": statuses or None, "jobName": job_name, "first": RUNS_PAGE_SIZE,
                               "after": after})
    if data is None:  # a stale or invalid `after` cursor: start from the newest
        data = _query(RUNS_QUERY, {"status": statuses or None, "jobName": job_name, "first": RUNS_PAGE_SIZE})
    connection = data["runs"]
    next_query = request.GET.copy()
    next_query["after"] = connection["pageInfo"]["endCursor"] or ""
    return render(request, "runs/runs.html", {
        "runs": [_run_row(edge["node"]) for edge in connection["edges"]],
        "total": connection["totalCount"],
        "next_query": next_query.urlencode() if connection["pageInfo"]["hasNextPage"] else None,
        "statuses": RunStatus.values,
        "selected_statuses": statuses,
        "job_names": sorted(set(get_workspace().jobs) | set(Run.objects.values_list("job_name", flat=True)
                                                            .distinct())),
        "selected_job": job_name or "",
        "filtered": bool(statuses or job_name),
    })


@ensure_csrf_cookie
@require_safe
def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    """The live run page: header, graph with counts per node, keys of the selected node, drawer, timeline."""
    try:
        get_run(run_id)
    except UnknownRunError:
        raise Http404(f"Unknown run '{run_id}'.") from None
    run = (_query(RUN_QUERY, {"id": run_id}) or {}).get("run")
    if run is None:
        raise Http404(f"Unknown run '{run_id}'.")
    job = (_query(JOB_QUERY, {"name": run["jobName"]}) or {}).get("job")
    if job and run["opSelection"]:
        job = _selected_graph(job, {entry["node"] for entry in run["nodeStats"]})
    return render(request, "runs/run.html", {
        "run": _run_row(run), "job": job, "page_data": {"run": run, "job": job},
        "full_index_max_steps": settings.DAGVIZ_UI_FULL_INDEX_MAX_STEPS,
    })


def _selected_graph(job: dict[str, Any], nodes: set[str]) -> dict[str, Any]:
    """The job of the API with only the nodes a run of an op selection executes (inputs from the others dropped)."""
    kept = [{**node, "inputs": [source for source in node["inputs"] if source["fromNode"] in (None, *nodes)]}
            for node in job["graph"]["nodes"] if node["name"] in nodes]
    return {**job, "graph": {**job["graph"], "nodes": kept}}
