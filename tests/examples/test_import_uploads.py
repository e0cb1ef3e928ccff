"""``import_uploads``: 60 files, 13 failing in a first run for three causes that group into three failure groups."""

from __future__ import annotations

from collections import Counter

from dagviz import StepStatus, build_op_context
from dagviz.examples import import_uploads
from dagviz.examples.import_uploads import import_upload
from dagviz.execution.error_signature import error_signature


def test_import_uploads_fails_thirteen_files_for_three_causes_and_skips_the_report():
    result = import_uploads.execute_in_process({"ops": {"import_upload": {"config": {"work_ms": 0}}}},
                                               raise_on_error=False)
    failed = {key: step for key, step in result.steps.items() if step.status == StepStatus.FAILURE}
    assert len(failed) == 13
    assert sum(step.status == StepStatus.SUCCESS for step in result.steps.values()) == 1 + 47
    assert result.steps["report_imports"].status == StepStatus.SKIPPED
    classes = Counter(step.error.class_name for step in failed.values())
    assert classes == {"ValueError": 6, "PermissionError": 4, "KeyError": 3}
    signatures = Counter(error_signature(step.error.class_name, step.error.message) for step in failed.values())
    assert sorted(signatures.values()) == [3, 4, 6]  # one signature per cause, whatever file each names


def test_a_failing_upload_imports_when_the_run_is_a_reexecution():
    context = build_op_context({"work_ms": 0}, mapping_key="upload_007", parent_run_id="parent")
    assert import_upload(context, 7) == 100 + 7 % 7
