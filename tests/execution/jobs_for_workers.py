"""Jobs defined at module level so that multiprocess workers can import them by module name.

Workers load ``tests.execution.jobs_for_workers`` and look jobs up by name; every op here is
deterministic, and timing-sensitive ops sleep inside the op only.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

from pydantic import PrivateAttr

from dagviz import Config, ConfigurableResource, DynamicOut, DynamicOutput, Field, RetryPolicy, job, op, resource

# -- plain and nested fan-out (same outputs in every executor) -------------------------------


@op(out=DynamicOut(), config_schema={"letters": Field([str], default_value=["d", "b", "a", "c"])})
def emit_letters(context):
    for letter in context.op_config["letters"]:
        yield DynamicOutput(letter, mapping_key=letter)


@op
def shout(context, letter: str) -> str:
    context.log.info(f"shouting {letter} pid={os.getpid()}")
    return f"{letter.upper()}!{context.get_mapping_key()}"


@op
def join_letters(values: list) -> str:
    return ",".join(values)


@op(out=DynamicOut())
def regions():
    for region, count in [("eu", 3), ("us", 2), ("apac", 0)]:
        yield DynamicOutput({"region": region, "count": count}, mapping_key=region)


@op(out=DynamicOut())
def customers(region: dict):
    for index in range(region["count"]):
        yield DynamicOutput(f"{region['region']}-{index}", mapping_key=f"c{index}")


@op
def score(context, customer: str) -> str:
    return f"{customer}@{context.step_key}"


@op
def region_total(scores: list) -> int:
    return len(scores)


@op
def overall(totals: list) -> list:
    return totals


@job
def letters_and_regions():
    join_letters(emit_letters().map(shout).collect())
    totals = regions().map(lambda region: region_total(customers(region).map(score).collect()))
    overall(totals.collect())


# -- collect order is yield order even when later keys finish first -----------------------------


@op(out=DynamicOut())
def emit_delays():
    for key, seconds in [("slow", 0.8), ("fast1", 0.0), ("fast2", 0.0), ("fast3", 0.0)]:
        yield DynamicOutput(seconds, mapping_key=key)


@op
def sleep_for(context, seconds: float) -> str:
    time.sleep(seconds)
    return context.get_mapping_key()


@op
def gather(values: list) -> list:
    return values


@job
def completion_order():
    gather(emit_delays().map(sleep_for).collect())


# -- streaming: the emitter sleeps between yields -------------------------------------------------


@op(out=DynamicOut(), config_schema={"n": Field(int, default_value=3), "interval": Field(float, default_value=0.3)})
def trickle(context):
    for index in range(context.op_config["n"]):
        context.log.info(f"yielding k{index}")
        yield DynamicOutput(index, mapping_key=f"k{index}")
        time.sleep(context.op_config["interval"])
    context.log.info("done yielding")


@op
def quick(context, value: int) -> int:
    context.log.info(f"quick {context.get_mapping_key()}")
    return value * 10


@op
def total(values: list) -> int:
    return sum(values)


@job
def trickle_job():
    total(trickle().map(quick).collect())


# -- failures: a raising key and a worker killed mid-step ------------------------------------------


@op(out=DynamicOut())
def three_keys():
    for key in ("k1", "k2", "k3"):
        yield DynamicOutput(key, mapping_key=key)


def raise_for_k2(value: str) -> str:
    if value == "k2":
        raise ValueError(f"boom {value}")
    return value


@op
def fail_on_k2(value: str) -> str:
    return raise_for_k2(value)


@job
def one_key_fails():
    gather(three_keys().map(fail_on_k2).collect())


def _kill_on_first_attempt(context, value: str) -> str:
    marker = context.op_config["marker"]
    if context.get_mapping_key() == "k2" and not os.path.exists(marker):
        with open(marker, "w") as handle:
            handle.write(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return value


@op(config_schema={"marker": str})
def die_once(context, value: str) -> str:
    return _kill_on_first_attempt(context, value)


@op(config_schema={"marker": str}, retry_policy=RetryPolicy(max_retries=1))
def die_once_retried(context, value: str) -> str:
    return _kill_on_first_attempt(context, value)


@job
def worker_killed():
    gather(three_keys().map(die_once).collect())


@job
def worker_killed_retried():
    gather(three_keys().map(die_once_retried).collect())


# -- dask: an emitter that yields until the run is terminated -----------------------------------


@op(out=DynamicOut(), config_schema={"n": Field(int, default_value=400), "interval": Field(float, default_value=0.05),
                                     "marker_dir": str})
def keep_yielding(context):
    """Writes a file per key before yielding it, so a test can see when it stops."""
    for index in range(context.op_config["n"]):
        with open(os.path.join(context.op_config["marker_dir"], f"k{index}"), "w"):
            pass
        yield DynamicOutput(index, mapping_key=f"k{index}")
        time.sleep(context.op_config["interval"])


@op
def nap(value: int) -> int:
    time.sleep(0.2)
    return value


@job
def keeps_yielding():
    gather(keep_yielding().map(nap).collect())


# -- dask: quick steps travel several to a task ----------------------------------------------------


@op(out=DynamicOut(), config_schema={"n": int})
def many_keys(context):
    for index in range(context.op_config["n"]):
        yield DynamicOutput(index, mapping_key=f"k{index}")


_steps_run_in_task: dict[str, int] = {}  # per worker process: Dask task key -> steps of it run so far


@op(config_schema={"marker": Field(str, default_value=""), "sleep_ms": Field(int, default_value=0)},
    retry_policy=RetryPolicy(max_retries=1))
def in_which_task(context, value: int) -> dict:
    """Which Dask task ran this step; with a marker, the second step of a task kills its worker, once a run."""
    from distributed import get_worker

    time.sleep(context.op_config["sleep_ms"] / 1000)
    task = get_worker().get_current_task()
    _steps_run_in_task[task] = _steps_run_in_task.get(task, 0) + 1
    marker = context.op_config["marker"]
    if marker and _steps_run_in_task[task] == 2:
        try:
            descriptor = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # one worker only, even in a race
        except FileExistsError:
            pass
        else:
            os.write(descriptor, f"{task} {context.get_mapping_key()}".encode())
            os.close(descriptor)
            os.kill(os.getpid(), signal.SIGKILL)
    return {"value": value, "task": task}


@job
def quick_keys():
    gather(many_keys().map(in_which_task).collect())


# -- dask: what a worker process sees --------------------------------------------------------------


@op(config_schema={"variable": str})
def worker_view(context) -> dict:
    """The worker's process id, its parent's, and one environment variable, as the op sees them."""
    return {"pid": os.getpid(), "parent": os.getppid(), "value": os.environ.get(context.op_config["variable"])}


@job
def worker_environment():
    worker_view()


# -- resources, config classes and run tags in worker processes ---------------------------------


class Scale(Config):
    factor: int = 2


class Ledger(ConfigurableResource):
    """Writes a file when set up and one when torn down (named by process and instance), so tests can count them."""

    marker_dir: str
    _token: str = PrivateAttr(default="")

    def setup_for_execution(self, context) -> None:
        self._token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with open(os.path.join(self.marker_dir, f"setup-{self._token}"), "w"):
            pass

    def teardown_after_execution(self, context) -> None:
        with open(os.path.join(self.marker_dir, f"teardown-{self._token}"), "w"):
            pass


@op(out=DynamicOut())
def six_keys():
    for index in range(6):
        yield DynamicOutput(index, mapping_key=f"k{index}")


@op
def use_ledger(context, config: Scale, ledger: Ledger, value: int) -> dict:
    time.sleep(0.05)  # long enough for both workers to take keys
    return {"pid": os.getpid(), "token": ledger._token, "scaled": value * config.factor,
            "team": context.get_tag("team"), "origin": context.get_tag("origin")}


@job(resource_defs={"ledger": Ledger.configure_at_launch()}, tags={"team": "data", "origin": "job"})
def resources_in_workers():
    gather(six_keys().map(use_ledger).collect())


@resource
def unreachable_database(init_context):
    raise ConnectionError("database at db.invalid:5432 refused the connection")


@op(required_resource_keys={"db"})
def query(context, value: int) -> int:
    return value


@job(resource_defs={"db": unreachable_database})
def resource_fails_in_workers():
    gather(six_keys().map(query).collect())
