"""A launched run reaches only the Dask schedulers and output stores the deployment lists.

A run config naming a Dask scheduler outside ``DAGVIZ_DASK_ADDRESSES``, or a run (a re-execution)
whose output store is neither the default nor under ``DAGVIZ_OUTPUT_STORES``, is refused at launch
with a config error at its path, over GraphQL (``launchRun``, ``reexecuteRun``; ``validateRunConfig``
says so first), the command line and the service, and nothing is written. Listed ones are launched. Runs hold in the queue
(``DAGVIZ_MAX_CONCURRENT_RUNS=0``) so that no worker tries to reach the made-up hosts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.test import Client

from dagviz.errors import InvalidConfigError
from dagviz.home import default_output_store_url, home_output_store_url
from runs.models import Run, RunStatus
from runs.services.allowlists import dask_address_allowed, output_store_allowed
from runs.services.launch import database_url_for_workers, launch_run
from runs.services.reexecution import reexecute

pytest.importorskip("distributed")  # the dask executor is refused earlier without its extra

pytestmark = pytest.mark.django_db(transaction=True)

ELSEWHERE = "tcp://10.255.0.9:8786"
FAR_STORE = "s3://someone-elses-bucket/outputs"
LAUNCH = """mutation($job: String!, $config: JSONString) { launchRun(jobName: $job, runConfig: $config) {
  __typename ... on LaunchRunSuccess { run { id status } }
  ... on RunConfigValidationInvalid { errors { path message reason } } } }"""
VALIDATE = """query($job: String!, $config: JSONString) { validateRunConfig(jobName: $job, runConfig: $config) {
  __typename ... on RunConfigValidationInvalid { errors { path message reason } } } }"""
REEXECUTE = """mutation($parent: ID!) { reexecuteRun(parentRunId: $parent, strategy: ALL) {
  __typename ... on LaunchRunSuccess { run { id status } }
  ... on RunConfigValidationInvalid { errors { path message reason } } } }"""


@pytest.fixture(autouse=True)
def held_in_queue(settings):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0


def graphql(query: str, variables: dict) -> dict:
    response = Client().post("/graphql", json.dumps({"query": query, "variables": variables}),
                             content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def launch_over_graphql(config: dict) -> dict:
    return graphql(LAUNCH, {"job": "letters", "config": json.dumps(config)})["launchRun"]


def on_dask(address: str, dagster_form: bool = False) -> dict:
    section = {"dask": {"address": address}}
    return {"execution": {"config": section} if dagster_form else section}


def finished_parent(**fields: object) -> Run:
    values = {"job_name": "letters", "status": RunStatus.FAILURE, "output_store": default_output_store_url(), **fields}
    return Run.objects.create(**values)


# -- the rules ----------------------------------------------------------------------------------------


def test_dask_addresses_match_exactly_with_tcp_assumed():
    allowed = ["tcp://dask.internal:8786", "tls://secure.internal:8786"]
    assert dask_address_allowed("tcp://dask.internal:8786", allowed)
    assert dask_address_allowed("dask.internal:8786", allowed)  # Dask's default scheme
    assert dask_address_allowed("TCP://Dask.Internal:8786/", allowed)
    assert not dask_address_allowed("tcp://dask.internal:8787", allowed)
    assert not dask_address_allowed("tcp://dask.internal.evil:8786", allowed)
    assert not dask_address_allowed("tcp://secure.internal:8786", allowed)  # tls only
    assert not dask_address_allowed("tcp://dask.internal:8786", [])


def test_output_stores_match_a_listed_url_or_what_lies_under_it():
    allowed = ["s3://team/dagviz"]
    for url in ("s3://team/dagviz", "s3://team/dagviz/", "s3://team/dagviz/nightly", default_output_store_url(),
                home_output_store_url(), "memory://"):
        assert output_store_allowed(url, allowed), url
    for url in ("s3://team/dagviz-other", "s3://team", "s3://team/dagviz/../secrets", "file:///etc",
                home_output_store_url() + "/../../elsewhere"):
        assert not output_store_allowed(url, allowed), url


# -- launchRun, reexecuteRun, the command line ------------------------------------------------------------


@pytest.mark.parametrize("dagster_form", [False, True])
def test_launch_run_refuses_an_unlisted_dask_address_at_its_path(settings, dagster_form):
    settings.DAGVIZ_DASK_ADDRESSES = ["tcp://10.255.0.1:8786"]
    result = launch_over_graphql(on_dask(ELSEWHERE, dagster_form))
    assert result["__typename"] == "RunConfigValidationInvalid"
    [error] = result["errors"]
    assert error["path"] == ("execution.config.dask.address" if dagster_form else "execution.dask.address")
    assert ELSEWHERE in error["message"] and "DAGVIZ_DASK_ADDRESSES" in error["message"]
    assert error["reason"] == "NOT_ALLOWED"
    assert Run.objects.count() == 0
    checked = graphql(VALIDATE, {"job": "letters", "config": json.dumps(on_dask(ELSEWHERE, dagster_form))})
    assert checked["validateRunConfig"]["errors"] == result["errors"]  # the launchpad says so before launching


def test_launch_run_accepts_a_listed_address_and_a_runs_own_local_cluster(settings):
    assert launch_over_graphql({"execution": {"dask": {"n_workers": 1}}})["__typename"] == "LaunchRunSuccess"
    settings.DAGVIZ_DASK_ADDRESSES = [ELSEWHERE.removeprefix("tcp://")]
    result = launch_over_graphql(on_dask(ELSEWHERE))
    assert result["__typename"] == "LaunchRunSuccess" and result["run"]["status"] == "QUEUED"
    assert Run.objects.count() == 2


def test_reexecution_applies_the_lists_to_the_parents_config_and_store(settings):
    by_address = finished_parent(run_config=on_dask(ELSEWHERE), executor="dask")
    result = graphql(REEXECUTE, {"parent": str(by_address.id)})["reexecuteRun"]
    assert result["__typename"] == "RunConfigValidationInvalid"
    assert [error["path"] for error in result["errors"]] == ["execution.dask.address"]
    far = finished_parent(output_store=FAR_STORE)
    with pytest.raises(InvalidConfigError, match="DAGVIZ_OUTPUT_STORES") as refused:
        reexecute(str(far.id), "ALL")
    assert [path for path, _ in refused.value.errors] == ["output_store"]
    assert Run.objects.count() == 2  # the parents only

    settings.DAGVIZ_DASK_ADDRESSES = [ELSEWHERE]
    settings.DAGVIZ_OUTPUT_STORES = ["s3://someone-elses-bucket"]
    assert graphql(REEXECUTE, {"parent": str(by_address.id)})["reexecuteRun"]["__typename"] == "LaunchRunSuccess"
    assert reexecute(str(far.id), "ALL").output_store == FAR_STORE


def test_the_default_store_and_memory_need_no_listing():
    assert launch_run("letters").output_store == default_output_store_url()
    assert reexecute(str(finished_parent(output_store="memory://").id), "ALL").status == RunStatus.QUEUED


def manage_launch(config: dict, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "dagviz.server.settings",
                   "DATABASE_URL": database_url_for_workers(), "DAGVIZ_HOME": str(django_settings.DAGVIZ_HOME),
                   "DAGVIZ_WORKSPACE": ",".join(django_settings.DAGVIZ_WORKSPACE),
                   "DAGVIZ_MAX_CONCURRENT_RUNS": "0", **env}
    return subprocess.run([sys.executable, "-m", "django", "launch", "letters", "--config", json.dumps(config),
                           "--json"], env=environment, capture_output=True, text=True, timeout=120)


def test_the_launch_command_refuses_and_accepts_by_the_same_list():
    refused = manage_launch(on_dask(ELSEWHERE), DAGVIZ_DASK_ADDRESSES="")
    assert refused.returncode == 2, refused.stderr
    assert "execution.dask.address" in refused.stderr and "DAGVIZ_DASK_ADDRESSES" in refused.stderr
    assert Run.objects.count() == 0
    accepted = manage_launch(on_dask(ELSEWHERE), DAGVIZ_DASK_ADDRESSES=f"tcp://10.0.0.1:8786,{ELSEWHERE}")
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["status"] == "QUEUED"
