"""Where a launched run may connect: the Dask schedulers and output stores the deployment allows.

Whoever can launch a run writes its run config. Without these lists a run config could make a run
worker connect to any host (``execution: {dask: {address: ...}}``), and a run could write its
outputs anywhere its output store URL says. The lists are settings (``DAGVIZ_DASK_ADDRESSES``,
``DAGVIZ_OUTPUT_STORES``), checked when a run is launched or re-executed, before anything is written.
What the deployment itself configured is always allowed: a run's own LocalCluster (no address),
``DASK_SCHEDULER_ADDRESS`` (used when the run config names no address), the default output store
(``DAGVIZ_OUTPUT_STORE``, or the one under ``DAGVIZ_HOME``) and ``memory://`` (the worker's own memory).
``dagviz execute`` runs code as the machine's own user and is not restricted.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from django.conf import settings

from dagviz.config.run_config import ResolvedRunConfig
from dagviz.errors import InvalidConfigError
from dagviz.home import default_output_store_url, home_output_store_url
from dagviz.storage.output_store import MEMORY_URL

DASK_SETTING = "DAGVIZ_DASK_ADDRESSES"
STORE_SETTING = "DAGVIZ_OUTPUT_STORES"


def check_launch_reach(job_name: str, run_config: Mapping, config: ResolvedRunConfig,
                       output_store: str | None = None) -> None:
    """:func:`check_network_reach` with the deployment's lists (the default output store when none is given)."""
    check_network_reach(job_name, run_config, config, output_store or default_output_store_url(),
                        dask_addresses=settings.DAGVIZ_DASK_ADDRESSES, output_stores=settings.DAGVIZ_OUTPUT_STORES)


def check_network_reach(job_name: str, run_config: Mapping, config: ResolvedRunConfig, output_store: str, *,
                        dask_addresses: Sequence[str], output_stores: Sequence[str]) -> None:
    """Raise ``InvalidConfigError`` (at each offending path) if the run would reach beyond the allowlists."""
    errors = [*_dask_errors(run_config, config, dask_addresses), *_store_errors(output_store, output_stores)]
    if errors:
        raise InvalidConfigError(errors, job_name)


def dask_address_allowed(address: str, allowed: Sequence[str]) -> bool:
    """Exact match, once both sides are written the same way (``host:8786`` is ``tcp://host:8786``)."""
    return _normal_address(address) in {_normal_address(item) for item in allowed}


def output_store_allowed(url: str, allowed: Sequence[str]) -> bool:
    """The store is a default or allowed URL or lies under one (``s3://b/dagviz`` allows ``s3://b/dagviz/team``)."""
    if ".." in url.split("/"):  # file:///allowed/../elsewhere would pass a prefix test
        return False
    defaults = [MEMORY_URL, home_output_store_url(), default_output_store_url()]
    roots = [item.rstrip("/") for item in [*defaults, *allowed]]
    return any(url.rstrip("/") == root or url.startswith(root + "/") for root in roots)


def _dask_errors(run_config: Mapping, config: ResolvedRunConfig, allowed: Sequence[str]) -> list[tuple[str, str]]:
    address = config.executor.config.get("address") if config.executor_given else None
    if config.executor.name != "dask" or not address or dask_address_allowed(address, allowed):
        return []
    execution = run_config.get("execution")
    path = "execution.config" if isinstance(execution, dict) and set(execution) == {"config"} else "execution"
    return [(f"{path}.dask.address",
             f"not allowed: Dask scheduler {address!r} is not listed in {DASK_SETTING} (leave the address out "
             "to use the run's own LocalCluster, or the deployment's DASK_SCHEDULER_ADDRESS)")]


def _store_errors(url: str, allowed: Sequence[str]) -> list[tuple[str, str]]:
    if output_store_allowed(url, allowed):
        return []
    return [("output_store", f"not allowed: output store {url!r} is neither the default store nor under one "
                             f"listed in {STORE_SETTING}")]


def _normal_address(address: str) -> str:
    address = address.strip().rstrip("/").lower()
    return address if "://" in address else f"tcp://{address}"
