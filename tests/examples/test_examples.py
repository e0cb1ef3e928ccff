"""Each bundled example job does what its description promises."""

from __future__ import annotations

from pathlib import Path

from dagviz import StepStatus, build_op_context
from dagviz.examples import big_fanout, flaky_fanout, nested_fanout, process_directory, streaming_fanout
from dagviz.examples.flaky_fanout import flaky_work
from dagviz.examples.process_directory import SAMPLE_DIRECTORY
from dagviz.execution.events import DynamicOutputYielded, StepStarted, StepSucceeded


def test_process_directory_maps_one_key_per_sample_file():
    result = process_directory.execute_in_process()
    files = sorted(p.name for p in Path(SAMPLE_DIRECTORY).iterdir() if p.is_file())
    per_file = result.output_for_node("process_file")
    assert list(per_file) == ["cities_csv", "config_json", "readme_txt", "release_notes_md"]
    summary = result.output_for_node("summarize_directory")
    assert summary["files"] == len(files) == 4
    assert summary["names"] == files
    assert summary["bytes"] == sum((Path(SAMPLE_DIRECTORY) / name).stat().st_size for name in files)


def test_process_directory_reads_the_configured_path(tmp_path):
    (tmp_path / "one file.txt").write_text("a b c\n")
    result = process_directory.execute_in_process(
        {"ops": {"files_in_directory": {"config": {"path": str(tmp_path)}}}}
    )
    assert result.output_for_node("summarize_directory")["words"] == 3
    assert list(result.output_for_node("process_file")) == ["one_file_txt"]


def test_flaky_fanout_fails_exactly_the_configured_keys_and_skips_the_total():
    result = flaky_fanout.execute_in_process({"ops": {"flaky_work": {"config": {"sleep_ms": 0}}}}, raise_on_error=False)
    failed = sorted(key for key, step in result.steps.items() if step.status == StepStatus.FAILURE)
    assert failed == ["flaky_work[k3]", "flaky_work[k7]"]
    assert sum(step.status == StepStatus.SUCCESS for step in result.steps.values()) == 1 + 18
    assert result.steps["total"].status == StepStatus.SKIPPED


def test_flaky_work_succeeds_for_a_failing_key_when_the_run_is_a_reexecution():
    config = {"fail_keys": ["k3"], "sleep_ms": 0}
    assert flaky_work(build_op_context(config, mapping_key="k3", parent_run_id="parent"), 3) == 9


def test_big_fanout_sums_every_key():
    result = big_fanout.execute_in_process({"ops": {"emit_many": {"config": {"n": 2000}}}})
    assert result.output_for_node("sum_all") == sum(range(1, 2001))
    assert len(result.output_for_node("add_one")) == 2000


def test_streaming_fanout_starts_mapped_steps_before_the_emitter_finishes():
    result = streaming_fanout.execute_in_process(
        {"ops": {"slow_emitter": {"config": {"n": 4, "interval_ms": 50}}, "work": {"config": {"work_ms": 10}}}}
    )
    emitter_done = next(e.timestamp for e in result.events if isinstance(e, StepSucceeded) and e.step_key == "slow_emitter")
    first_yield = next(e.timestamp for e in result.events if isinstance(e, DynamicOutputYielded))
    first_work = next(e.timestamp for e in result.events if isinstance(e, StepStarted) and e.step_key == "work[k0]")
    assert first_yield <= first_work < emitter_done
    assert result.output_for_node("gather") == [0, 1, 2, 3]


def test_nested_fanout_totals_each_region_over_its_own_customers():
    result = nested_fanout.execute_in_process(
        {"ops": {"regions": {"config": {"regions": ["eu", "us"], "customers_per_region": 3}}}}
    )
    scores = result.output_for_node("score")
    assert list(scores) == ["eu", "us"] and list(scores["eu"]) == ["c0", "c1", "c2"]
    assert "score[eu][c2]" in result.steps and "region_total[us]" in result.steps
    totals = result.output_for_node("region_total")
    assert totals == {region: sum(scores[region].values()) for region in ("eu", "us")}
    assert result.output_for_node("overall") == {"regions": 2, "total": sum(totals.values())}


def _long_words_config(directory: str, **report: int) -> dict:
    return {"resources": {"library": {"config": {"directory": directory}}},
            "ops": {"long_words": {"config": report}, "word_report": {"config": report}}}


def _write_documents(directory: Path) -> None:
    (directory / "a.txt").write_text("pipeline pipeline fanout\n")
    (directory / "b.txt").write_text("pipeline orchestrator tiny\n")


def test_long_words_report_reads_documents_through_its_resource_and_config_class(tmp_path):
    from dagviz.examples import long_words_report

    _write_documents(tmp_path)
    result = long_words_report.execute_in_process(_long_words_config(str(tmp_path), min_length=6, top=2))

    assert list(result.output_for_node("long_words")) == ["a_txt", "b_txt"]
    assert result.output_for_node("word_report") == {
        "documents": ["a.txt", "b.txt"], "top": [("pipeline", 3), ("fanout", 1)]}
    output_event = next(e for e in result.events if e.kind == "STEP_OUTPUT" and e.step_key == "word_report")
    assert output_event.metadata == {"documents": 2, "distinct_words": 3}


def test_long_words_report_defaults_come_from_the_config_class_and_the_resource():
    from dagviz.examples import long_words_report

    defaults = long_words_report.default_run_config()
    assert defaults["ops"]["word_report"]["config"] == {"min_length": 5, "top": 5}
    assert defaults["resources"]["library"]["config"] == {"directory": SAMPLE_DIRECTORY}


def test_long_words_report_runs_in_worker_processes(tmp_path):
    from dagviz.examples import long_words_report
    from dagviz.execution.api import execute_job

    documents = tmp_path / "documents"
    documents.mkdir()
    _write_documents(documents)
    config = {**_long_words_config(str(documents), min_length=6, top=1),
              "execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}
    result = execute_job(long_words_report, config, output_store=f"file://{tmp_path / 'store'}")

    assert result.success
    assert result.output_for_node("word_report")["top"] == [("pipeline", 3)]
