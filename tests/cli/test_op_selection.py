"""``dagviz execute --op-selection``: only the selected ops run; an unknown op is bad input (exit 2)."""

from __future__ import annotations

import textwrap

from tests.cli.test_cli import dagviz

JOBS = textwrap.dedent(
    """
    from dagviz import DynamicOut, DynamicOutput, job, op

    @op(out=DynamicOut())
    def letters():
        for letter in "abc":
            yield DynamicOutput(letter, mapping_key=letter)

    @op
    def upper(letter):
        return letter.upper()

    @op
    def join(letters):
        return "".join(letters)

    @op(config_schema={"suffix": str})
    def punctuate(context, word):
        return word + context.op_config["suffix"]

    @job
    def spell():
        punctuate(join(letters().map(upper).collect()))
    """
)


def test_execute_runs_only_the_selected_ops_without_the_config_of_the_others(tmp_path):
    source = tmp_path / "spell_jobs.py"
    source.write_text(JOBS)
    result = dagviz("execute", "-f", str(source), "--op-selection", "letters, upper,join", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "of job 'spell': SUCCESS" in result.stdout
    assert "join: 'ABC'" in result.stdout
    assert "punctuate" not in result.stdout

    whole = dagviz("execute", "-f", str(source), cwd=tmp_path)  # punctuate's config is required then
    assert whole.returncode == 2 and "punctuate" in whole.stderr


def test_execute_with_an_unknown_op_in_the_selection_exits_2_naming_it(tmp_path):
    source = tmp_path / "spell_jobs.py"
    source.write_text(JOBS)
    result = dagviz("execute", "-f", str(source), "--op-selection", "*no_such_op", cwd=tmp_path)
    assert result.returncode == 2
    assert "no_such_op" in result.stderr and result.stdout == ""
