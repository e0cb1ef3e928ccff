"""The pages as plain HTTP: what they render before any script runs, 404s, and the CSRF cookie."""

from __future__ import annotations

import uuid

import pytest

from runs.models import Run

pytestmark = pytest.mark.django_db


def test_every_page_answers_and_sets_the_csrf_cookie_the_scripts_send_back(client):
    run = Run.objects.create(job_name="flaky_fanout", output_store="file:///tmp/unused")
    for url, hooks in [
        ("/", ["job-link-flaky_fanout", "job-link-process_directory"]),
        ("/jobs/flaky_fanout/", ["graph-canvas", "node-details"]),
        ("/jobs/flaky_fanout/launch", ["config-editor", "config-errors", "launch-button"]),
        ("/runs/", ["runs-table"]),
        (f"/runs/{run.id}/", ["run-status", "progress", "terminate-button", "graph-canvas", "status-grid",
                              "key-table", "key-filter", "step-drawer", "reexecute-failed", "reexecute-selected",
                              "reexecute-preview", "reexecute-confirm"]),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "csrftoken" in response.cookies, url
        text = response.content.decode()
        for hook in hooks:
            assert f'data-testid="{hook}"' in text, (url, hook)


def test_the_run_page_shows_the_status_as_text_and_links_the_parent_run(client):
    parent = Run.objects.create(job_name="flaky_fanout", output_store="file:///tmp/unused", status="FAILURE")
    child = Run.objects.create(job_name="flaky_fanout", output_store="file:///tmp/unused", parent_run=parent,
                               root_run_id=parent.id)
    text = client.get(f"/runs/{child.id}/").content.decode()
    assert 'data-testid="run-status" aria-live="polite">QUEUED</span>' in text
    assert f'href="/runs/{parent.id}/" data-testid="parent-run-link"' in text


def test_unknown_jobs_and_runs_are_404(client):
    assert client.get("/jobs/no_such_job/").status_code == 404
    assert client.get("/jobs/no_such_job/launch").status_code == 404
    assert client.get(f"/runs/{uuid.uuid4()}/").status_code == 404
    assert client.get("/runs/not-a-uuid/").status_code == 404


def test_the_run_list_filters_by_status_and_job(client):
    Run.objects.create(job_name="flaky_fanout", output_store="file:///tmp/unused", status="FAILURE")
    Run.objects.create(job_name="nested_fanout", output_store="file:///tmp/unused", status="SUCCESS")
    assert client.get("/runs/").content.decode().count("data-run-id=") == 2
    assert client.get("/runs/?status=FAILURE").content.decode().count("data-run-id=") == 1
    assert client.get("/runs/?job=nested_fanout&status=FAILURE").content.decode().count("data-run-id=") == 0
    assert client.get("/runs/?after=bogus").status_code == 200
