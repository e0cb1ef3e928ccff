"""Generated GraphQL operations posted to ``/graphql``: whatever a client sends, never a 5xx or an unhandled exception.

hypothesis-graphql builds queries and mutations from the schema's SDL (any field, any argument, any
selection); each one is posted as a JSON body through Django's test client without cookies, as an
API client would, against a database holding real runs: a failed fan-out (failed and successful
dynamic steps, events, logs, stored outputs), a successful one, a queued re-execution of the failed
run and a run that is going. Arguments that name runs, jobs, steps or cursors are drawn partly from
those real values so that resolvers go past their lookups. Every answer must have a status below
500 and a JSON body, and no error may be "Internal error (...)" (the message of an exception no
resolver handled). A refusal (HTTP 400 from validation or query limits, a typed error) is fine.
Hostile values (NUL bytes, lone surrogates, huge or deeply nested text, NaN) are posted twice: written
in the document, and as JSON variables, the only way some of them get past the GraphQL lexer.

The runs launched by mutations stay ``QUEUED``: the concurrent-runs limit is set to 0, and starting a
worker process fails the test. Examples are derandomized (the same ones on every CI run) and no
example database is written.
"""

from __future__ import annotations

import json
import os
import uuid
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from django.test import Client
from graphql import (
    ArgumentNode,
    DocumentNode,
    NameNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    parse_type,
    print_ast,
    value_from_ast_untyped,
    visit,
)
from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis_graphql import Mode, mutations, nodes, queries

from runs.event_rows import yielded_keys
from runs.graphql.api import schema
from runs.models import Run, RunStatus, Step
from runs.services import launch
from runs.services.local_run import execute_local_run
from runs.services.reexecution import reexecute
from runs.workspace import get_workspace

SDL = str(schema)

# Even without an example database Hypothesis caches what it learns from source files, by default in
# ./.hypothesis: keep that in the session's throw-away home rather than in the checkout.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(os.environ["DAGVIZ_HOME"]) / "hypothesis")

# No shrinking: it would take minutes of requests, past the test timeout; a failure shows the operation as generated.
FUZZ_SETTINGS = dict(
    deadline=None, derandomize=True, database=None, print_blob=False, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)

# -- the data the operations meet --------------------------------------------------------------------------------

FAILED_CONFIG = {"ops": {"emit_keys": {"config": {"n": 4}},
                         "flaky_work": {"config": {"fail_keys": ["k1", "k2"], "sleep_ms": 0}}}}
SUCCEEDED_CONFIG = {"ops": {"emit_letters": {"config": {"keys": ["b", "a", "c"]}}}}
ROLES = ("failed", "succeeded", "child", "started")


def placeholder(role: str) -> str:
    """The text that stands for the id of the run playing ``role`` in a generated operation."""
    return f"@run:{role}"


@dataclass
class Dataset:
    """The runs of each role, recreated (before an example) when a mutation deleted or changed one."""

    ids: dict[str, str] = field(default_factory=dict)
    client: Client = field(default_factory=Client)  # one client: each new one loads the middleware again

    def ensure(self) -> None:
        wanted = {"failed": RunStatus.FAILURE, "succeeded": RunStatus.SUCCESS, "child": RunStatus.QUEUED,
                  "started": RunStatus.STARTED}
        present = dict(Run.objects.filter(id__in=self.ids.values()).values_list("id", "status"))
        for role in ROLES:
            run_id = self.ids.get(role)
            if run_id is None or present.get(uuid.UUID(run_id)) != wanted[role]:
                self.ids[role] = getattr(self, f"_make_{role}")()

    def substitute(self, operation: str) -> str:
        for role, run_id in self.ids.items():
            operation = operation.replace(f'"{placeholder(role)}"', json.dumps(run_id))
        return operation

    def substitute_values(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.substitute_values(item) for item in value]
        by_placeholder = {placeholder(role): run_id for role, run_id in self.ids.items()}
        return by_placeholder.get(value, value) if isinstance(value, str) else value

    def _make_failed(self) -> str:
        result = execute_local_run(get_workspace().get("flaky_fanout"), FAILED_CONFIG, {"team": "fuzz"},
                                   executor="in_process")
        return str(result.run_id)

    def _make_succeeded(self) -> str:
        result = execute_local_run(get_workspace().get("letters"), SUCCEEDED_CONFIG, None, executor="in_process")
        return str(result.run_id)

    def _make_child(self) -> str:
        if "failed" not in self.ids or not Run.objects.filter(id=self.ids["failed"]).exists():
            self.ids["failed"] = self._make_failed()
        return str(reexecute(self.ids["failed"], "FROM_FAILURE").id)

    def _make_started(self) -> str:
        # Claimed by a worker on another host: terminating it never signals a process here.
        run = Run.objects.create(job_name="flaky_fanout", run_config=FAILED_CONFIG, status=RunStatus.STARTED,
                                 executor="in_process", output_store="memory://", worker_host="elsewhere.invalid")
        Step.objects.create(run=run, key="emit_keys", node="emit_keys", order=0, status="RUNNING")
        return str(run.id)


@pytest.fixture
def dataset(settings, monkeypatch) -> Iterator[Dataset]:
    """Real runs in a committed database; no worker process can be started while the test runs."""
    settings.DEBUG = False  # "Internal error (...)" is what a production server answers
    if hasattr(settings, "DAGVIZ_AUTH"):
        settings.DAGVIZ_AUTH = False
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = 0
    started: list[str] = []

    def refuse_to_start(run_id: str) -> int:
        started.append(run_id)
        raise AssertionError(f"the fuzz test must not start a worker process (run {run_id})")

    monkeypatch.setattr(launch, "start_worker_process", refuse_to_start)
    data = Dataset()
    data.ensure()
    failed = Run.objects.get(id=data.ids["failed"])
    assert failed.steps.filter(status="FAILURE").exists() and failed.steps.filter(status="SUCCESS").exists()
    assert failed.events.exists() and any(yielded_keys([failed.id]))
    yield data
    assert not started, f"worker processes were to be started for runs {started}"


# -- argument values ----------------------------------------------------------------------------------------------

KNOWN_STRINGS = [
    "flaky_fanout", "letters", "process_directory", "word_report", "emit_keys", "flaky_work", "total",
    "emit_letters", "shout", "flaky_work[k1]", "flaky_work[k0]", "k1", "[k", "shout[a]", "key k1 failed",
    "*flaky_work", "flaky_work+", "*total+", "emit_keys.x", "in_process", "multiprocess", "dask", "",
    "0", "1", "-1", "7", "2147483648", "9" * 30, "1_0", "\u0661\u0662", " 3 ", "1e3", "%", "_", "\\",
]
CURSORS = st.one_of(st.integers().map(str), st.sampled_from(["", "0", "-0", "+1", "00", "1_000", "\u0663", "9" * 5000]))
RUN_IDS = st.sampled_from([placeholder(role) for role in ROLES])


def json_values(leaves: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


PLAIN_JSON = json_values(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                         | st.text(max_size=12))
RUN_CONFIGS = st.sampled_from([
    {}, FAILED_CONFIG, SUCCEEDED_CONFIG, {"execution": {"in_process": {}}}, {"execution": {"multiprocess": {}}},
    {"ops": {"emit_keys": {"config": {"n": "three"}}}}, {"ops": {"nope": {}}}, {"resources": {}},
])


def string_nodes(*texts: st.SearchStrategy[str]) -> st.SearchStrategy:
    """String literals drawn from ``texts``, each alternative as likely (repeat one to weigh it more)."""
    return st.one_of(*texts).map(nodes.String)


def plain_scalars() -> dict[str, st.SearchStrategy]:
    """Mostly well-formed values, many of them naming what the database holds."""
    known = st.sampled_from(KNOWN_STRINGS)
    return {
        "String": string_nodes(known, known, CURSORS, RUN_IDS, st.text(max_size=30)),  # runs(after:) takes a run id
        "ID": string_nodes(RUN_IDS, RUN_IDS, RUN_IDS, st.uuids().map(str), st.text(max_size=40))
        | st.integers().map(nodes.Int),
        "JSONString": string_nodes(RUN_CONFIGS.map(json.dumps), RUN_CONFIGS.map(json.dumps), PLAIN_JSON.map(json.dumps),
                                   st.text(max_size=20)),
        "DateTime": string_nodes(st.datetimes().map(lambda moment: moment.isoformat()), st.text(max_size=20)),
    }


def nested(depth: int, opening: str, closing: str) -> str:
    return opening * depth + closing * depth


# Text a server must refuse or answer plainly: NUL bytes, control and bidi characters, huge strings,
# lone surrogates (valid in a JSON body, not encodable as UTF-8), deep nesting, non-finite numbers.
ODD_CHARACTERS = st.sampled_from(["\x00", "\x01", "\x7f", "\u202e", "\ufeff", "\U0001f600", "\u0301", "\ud800",
                                  "\udfff", "\udbff", "\n", "'", '"', "\\", "%", "_", "*", "[", "]"])
VALID_NAMES = st.sampled_from(["flaky_fanout", "letters", "in_process", "flaky_work[k1]", "shout[a]", "flaky_work"])
ADVERSARIAL_TEXT = st.one_of(
    st.text(ODD_CHARACTERS | st.characters(), max_size=40),
    st.text(ODD_CHARACTERS, min_size=1, max_size=6),
    st.builds(lambda unit, count: unit * count, st.text(ODD_CHARACTERS | st.characters(), min_size=1, max_size=3),
              st.sampled_from([1_000, 65_537, 300_000])),
    st.builds(lambda known, odd: known + odd, st.sampled_from(KNOWN_STRINGS), ODD_CHARACTERS),
)
# A real name with one character no database should see: these reach the lookups by name.
HOSTILE_NAMES = st.builds(str.__add__, VALID_NAMES, st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e"]))
ADVERSARIAL_JSON = st.one_of(
    st.builds(nested, st.sampled_from([50, 101, 1_000, 20_000]), st.just("["), st.just("]")),
    st.builds(lambda depth: '{"a": ' * depth + "1" + "}" * depth, st.sampled_from([50, 101, 1_000, 20_000])),
    st.builds(lambda key, number: json.dumps({key: number}), st.sampled_from(["team", "execution"]),
              st.sampled_from([float("nan"), float("inf"), -float("inf")])),
    st.sampled_from(["NaN", "Infinity", "-Infinity", '{"x": NaN}', '{"team": 1e999}', '{"ops": {"a": -Infinity}}',
                     '{"x": 1' + "0" * 5000 + "}", '{"ops": {"\\u0000": {}}}', '{"a": "\\ud800"}', "[", "{", "",
                     '"just a string"', "123", "null", "true"]),
    json_values(ADVERSARIAL_TEXT | st.integers(min_value=-(2 ** 80), max_value=2 ** 80) | st.floats())
    .map(lambda value: json.dumps(value)),
    st.builds(lambda config, text: json.dumps({"ops": {"emit_keys": {"config": {"n": text}}}, **config}),
              RUN_CONFIGS, ADVERSARIAL_TEXT),
)


def adversarial_scalars() -> dict[str, st.SearchStrategy]:
    """Hostile values, next to real run ids and job names so that they reach the resolvers below those."""
    return {
        "String": string_nodes(ADVERSARIAL_TEXT, HOSTILE_NAMES, VALID_NAMES, CURSORS, RUN_IDS),
        "ID": string_nodes(RUN_IDS, RUN_IDS, ADVERSARIAL_TEXT, RUN_IDS.map(lambda text: text + "\x00"),
                           st.uuids().map(lambda run_id: "{" + str(run_id).upper() + "}")),
        "JSONString": string_nodes(ADVERSARIAL_JSON),
        "DateTime": string_nodes(ADVERSARIAL_TEXT),
    }


def as_document(document: DocumentNode) -> DocumentNode:
    """Keep the generated operation as a syntax tree, to be printed with or without variables."""
    return document


class _ArgumentsToVariables(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.definitions: list[VariableDefinitionNode] = []
        self.values: dict[str, Any] = {}

    def enter_argument(self, node: ArgumentNode, *_: Any) -> ArgumentNode | None:
        argument = self.type_info.get_argument()
        if argument is None or isinstance(node.value, VariableNode):
            return None
        variable = VariableNode(name=NameNode(value=f"v{len(self.definitions)}"))
        self.values[variable.name.value] = value_from_ast_untyped(node.value)
        self.definitions.append(VariableDefinitionNode(variable=variable, type=parse_type(str(argument.type))))
        return ArgumentNode(name=node.name, value=variable)


def with_variables(document: DocumentNode) -> tuple[str, dict[str, Any]]:
    """The operation with each argument's value moved into a variable, as the UI and scripts send them.

    Over JSON, values reach the resolvers that the GraphQL lexer would refuse in the document itself
    (a lone surrogate written ``"\\ud800"``).
    """
    type_info = TypeInfo(schema.graphql_schema)
    arguments = _ArgumentsToVariables(type_info)
    edited = visit(document, TypeInfoVisitor(type_info, arguments))
    operation = copy(edited.definitions[0])
    operation.variable_definitions = tuple(arguments.definitions)
    return print_ast(DocumentNode(definitions=(operation,))), arguments.values


# -- posting and checking ---------------------------------------------------------------------------------------------


def post(dataset: Dataset, operation: str, variables: dict[str, Any] | None = None) -> None:
    """Post ``operation`` as a script would and check the answer is no server failure."""
    variables = {name: dataset.substitute_values(value) for name, value in (variables or {}).items()}
    body = json.dumps({"query": dataset.substitute(operation), "variables": variables})
    dataset.client.cookies.clear()  # the CSRF cookie of the previous answer would make this a browser's request
    response = dataset.client.post("/graphql", body, content_type="application/json")
    text = response.content.decode("utf-8", errors="replace")
    operation = f"{operation}\nvariables: {variables!r:.2000}" if variables else operation
    assert response.status_code < 500, f"HTTP {response.status_code} for\n{operation}\n{text[:2000]}"
    try:
        answer = json.loads(text)
    except ValueError:
        raise AssertionError(f"HTTP {response.status_code}, not JSON, for\n{operation}\n{text[:2000]}") from None
    errors = (answer.get("errors") or []) if isinstance(answer, dict) else []
    internal = [error for error in errors if str(error.get("message", "")).startswith("Internal error")]
    assert not internal, f"unhandled exception for\n{operation}\n{internal}"
    assert "Traceback (most recent call last)" not in text, f"a stack trace in the answer to\n{operation}"


@hypothesis_settings(max_examples=200, **FUZZ_SETTINGS)
@given(operation=queries(SDL, custom_scalars=plain_scalars()))
def test_generated_queries_never_fail_on_the_server(dataset, operation):
    dataset.ensure()
    post(dataset, operation)


@hypothesis_settings(max_examples=100, **FUZZ_SETTINGS)
@given(operation=mutations(SDL, custom_scalars=plain_scalars()))
def test_generated_mutations_never_fail_on_the_server(dataset, operation):
    dataset.ensure()
    post(dataset, operation)


@hypothesis_settings(max_examples=100, **FUZZ_SETTINGS)
@given(document=queries(SDL, custom_scalars=adversarial_scalars(), print_ast=as_document)
       | mutations(SDL, custom_scalars=adversarial_scalars(), print_ast=as_document))
def test_adversarial_arguments_never_fail_on_the_server(dataset, document):
    dataset.ensure()
    post(dataset, print_ast(document))  # the values written in the document
    dataset.ensure()
    post(dataset, *with_variables(document))  # the same values as JSON variables


@hypothesis_settings(max_examples=50, **FUZZ_SETTINGS)
@given(operation=queries(SDL, custom_scalars=plain_scalars(), mode=Mode.NEGATIVE)
       | mutations(SDL, custom_scalars=plain_scalars(), mode=Mode.NEGATIVE))
def test_operations_that_break_the_schema_are_refused_not_failed(dataset, operation):
    dataset.ensure()
    post(dataset, operation)
