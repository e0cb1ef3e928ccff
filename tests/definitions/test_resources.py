"""Resources: declaring them, their run config, when they are set up and torn down, and how ops reach them."""

import textwrap

import pytest
from pydantic import PrivateAttr

from dagviz import (
    ConfigurableResource,
    Definitions,
    DynamicOut,
    DynamicOutput,
    Field,
    InvalidConfigError,
    InvalidDefinitionError,
    Out,
    Output,
    ResourceInitError,
    ResourceParam,
    UnknownResourceError,
    build_init_resource_context,
    build_op_context,
    build_resources,
    job,
    op,
    resource,
)
from dagviz.config.run_config import default_run_config, run_config_type
from dagviz.execution.run_resources import open_runs
from dagviz.workspace import JobPointer, Workspace, pointer_for


class Warehouse(ConfigurableResource):
    url: str
    pool: int = 2
    _events: list = PrivateAttr(default_factory=list)

    def setup_for_execution(self, context) -> None:
        self._events.append("setup")

    def teardown_after_execution(self, context) -> None:
        self._events.append("teardown")


@op
def url_of(warehouse: Warehouse) -> str:
    return f"{warehouse.url}/{warehouse.pool}"


def test_a_configurable_resource_s_given_values_are_the_default_of_its_run_config():
    @job(resource_defs={"warehouse": Warehouse(url="pg://a")})
    def report():
        url_of()

    section = run_config_type(report.nodes, resource_defs=report.resource_defs).to_json()["fields"]["resources"]
    assert section["required"] is False
    config = section["fields"]["warehouse"]["fields"]["config"]
    assert config["default"] == {"url": "pg://a", "pool": 2}
    assert config["fields"]["url"]["required"] is True
    assert default_run_config(report.nodes, resource_defs=report.resource_defs)["resources"] == {
        "warehouse": {"config": {"url": "pg://a", "pool": 2}}}
    assert report.execute_in_process().output_for_node("url_of") == "pg://a/2"
    overridden = report.execute_in_process(run_config={"resources": {"warehouse": {"config": {"url": "pg://b"}}}})
    assert overridden.output_for_node("url_of") == "pg://b/2"


def test_configure_at_launch_leaves_the_config_to_run_config_with_given_values_as_defaults():
    @job(resource_defs={"warehouse": Warehouse.configure_at_launch(pool=5)})
    def report():
        url_of()

    with pytest.raises(InvalidConfigError) as caught:
        report.execute_in_process()
    assert caught.value.errors == [("", "missing required field 'resources' ({warehouse: {config: {url: str, pool: int}}})")]
    result = report.execute_in_process(run_config={"resources": {"warehouse": {"config": {"url": "pg://c"}}}})
    assert result.output_for_node("url_of") == "pg://c/5"


def test_resource_config_is_validated_at_its_path():
    @resource(config_schema={"retries": int})
    def client(init_context):
        return init_context.resource_config["retries"]

    @op(required_resource_keys={"client"})
    def call(context) -> int:
        return context.resources.client

    @job(resource_defs={"client": client})
    def calling():
        call()

    with pytest.raises(InvalidConfigError) as caught:
        calling.execute_in_process(run_config={"resources": {"client": {"config": {"retries": "3"}}}})
    assert caught.value.errors == [("resources.client.config.retries", "expected int, got str '3'")]
    assert calling.execute_in_process(
        run_config={"resources": {"client": {"config": {"retries": 3}}}}).output_for_node("call") == 3


def test_a_resource_is_set_up_when_a_step_first_needs_it_and_not_for_skipped_steps():
    calls = []

    @resource
    def tracked(_):
        calls.append("setup")
        yield "R"
        calls.append("teardown")

    @op(out=Out(is_required=False))
    def maybe():
        calls.append("maybe")
        if False:
            yield Output(1)

    @op(required_resource_keys={"tracked"})
    def needs(context, value: int) -> str:
        return context.resources.tracked

    @job(resource_defs={"tracked": tracked})
    def skipping():
        needs(maybe())

    result = skipping.execute_in_process()
    assert result.success and calls == ["maybe"]
    assert open_runs() == []


def test_a_resource_that_fails_to_set_up_fails_every_step_needing_it_with_one_attempt():
    attempts = []

    @resource
    def broken(_):
        attempts.append(1)
        raise ConnectionError("refused")

    @op(out=DynamicOut())
    def keys():
        for key in ("a", "b", "c"):
            yield DynamicOutput(key, mapping_key=key)

    @op(required_resource_keys={"db"})
    def load(context, key: str) -> str:
        return key

    @job(resource_defs={"db": broken})
    def loading():
        keys().map(load)

    result = loading.execute_in_process(raise_on_error=False)
    failures = {event.step_key: event.error for event in result.events if event.kind == "STEP_FAILURE"}
    assert sorted(failures) == ["load[a]", "load[b]", "load[c]"]
    assert {error.message for error in failures.values()} == {
        "Error executing resource_fn on ResourceDefinition 'db': ConnectionError: refused"}
    assert attempts == [1]
    with pytest.raises(ResourceInitError, match="ResourceDefinition 'db'"):
        loading.execute_in_process()


def test_resources_can_need_other_resources_and_are_torn_down_in_reverse_order():
    order = []

    @resource(config_schema={"name": str})
    def base(init_context):
        order.append("base up")
        yield init_context.resource_config["name"]
        order.append("base down")

    @resource(required_resource_keys={"base"})
    def derived(init_context):
        order.append("derived up")
        yield f"{init_context.resources.base}+derived"
        order.append("derived down")

    @op(required_resource_keys={"derived"})
    def show(context) -> str:
        return context.resources.derived

    @job(resource_defs={"base": base, "derived": derived})
    def layered():
        show()

    result = layered.execute_in_process(run_config={"resources": {"base": {"config": {"name": "b"}}}})
    assert result.output_for_node("show") == "b+derived"
    assert order == ["base up", "derived up", "derived down", "base down"]
    with pytest.raises(InvalidDefinitionError, match="resource with key 'base' required by resource with key 'derived'"):
        @job(resource_defs={"derived": derived})
        def missing_base():
            show()


def test_configured_fixes_a_resource_s_config():
    @resource(config_schema={"n": int})
    def number(init_context):
        return init_context.resource_config["n"]

    @op(required_resource_keys={"number"})
    def read(context) -> int:
        return context.resources.number

    @job(resource_defs={"number": number.configured({"n": 7})})
    def reading():
        read()

    assert reading.execute_in_process().output_for_node("read") == 7
    with pytest.raises(InvalidConfigError, match="config.n: expected int"):
        number.configured({"n": "seven"})


def test_context_resources_has_only_the_keys_the_op_declared():
    class Client:
        name = "plain"

    @op
    def uses(context, client: ResourceParam[Client]) -> tuple:
        return client.name, context.resources.client.name, hasattr(context.resources, "other")

    @op(required_resource_keys={"client"})
    def reads_other(context):
        return context.resources.other

    @job(resource_defs={"client": Client(), "other": 1})
    def using():
        uses()
        reads_other()

    result = using.execute_in_process(raise_on_error=False)
    assert result.output_for_node("uses") == ("plain", "plain", False)
    failure = next(event for event in result.events if event.kind == "STEP_FAILURE")
    assert failure.error.class_name == "UnknownResourceError"
    assert failure.error.message.startswith("Unknown resource `other`.")


def test_direct_invocation_sets_up_resources_given_as_arguments_for_the_call_only():
    warehouse = Warehouse(url="pg://d")

    assert url_of(warehouse=warehouse) == "pg://d/2"
    with build_op_context(resources={"warehouse": Warehouse(url="pg://e")}) as context:
        assert url_of(context) == "pg://e/2"
        instance = context.resources.warehouse
        assert instance._events == ["setup"]
    assert instance._events == ["setup", "teardown"]
    with pytest.raises(InvalidDefinitionError, match="resource with key 'warehouse' required by op 'url_of'"):
        url_of(build_op_context())


def test_build_resources_sets_up_and_tears_down_outside_a_run():
    @resource(config_schema={"prefix": str})
    def namer(init_context):
        yield lambda name: init_context.resource_config["prefix"] + name

    with build_resources({"namer": namer, "warehouse": Warehouse(url="pg://f")},
                         {"namer": {"config": {"prefix": "x-"}}}) as resources:
        assert resources.namer("a") == "x-a"
        warehouse = resources.warehouse
        assert warehouse._events == ["setup"]
    assert warehouse._events == ["setup", "teardown"]
    with pytest.raises(UnknownResourceError):
        resources.missing


WORKSPACE = '''
from dagviz import ConfigurableResource, Definitions, job, op

class Greeting(ConfigurableResource):
    word: str

@op
def greet(greeting: Greeting) -> str:
    return greeting.word

@job
def greeter():
    greet()

@op
def wave() -> str:
    return "~"

@job
def not_in_definitions():
    wave()

defs = Definitions(jobs=[greeter], resources={"greeting": Greeting(word="hello")})
'''


def test_a_module_with_definitions_is_loaded_from_them_with_resources_bound(tmp_path):
    path = tmp_path / "location.py"
    path.write_text(textwrap.dedent(WORKSPACE))

    workspace = Workspace.load(files=[str(path)])
    assert sorted(workspace.jobs) == ["greeter"]
    greeter = workspace.get("greeter")
    assert greeter.execute_in_process().output_for_node("greet") == "hello"
    pointer = pointer_for(greeter)
    assert pointer == JobPointer("greeter", file=str(path)) == workspace.pointers["greeter"]
    assert pointer.load() is greeter


def test_invalid_definitions_are_a_workspace_error_naming_the_problem(tmp_path):
    path = tmp_path / "broken_location.py"
    path.write_text(textwrap.dedent(WORKSPACE).replace('resources={"greeting": Greeting(word="hello")}', ""))

    workspace = Workspace.load(files=[str(path)])
    assert workspace.jobs == {}
    assert "resource with key 'greeting' required by op 'greet' was not provided" in workspace.errors[str(path)]


def test_definitions_refuse_what_dagviz_does_not_run():
    with pytest.raises(InvalidDefinitionError, match="assets"):
        Definitions(assets=[object()])
    with pytest.raises(InvalidDefinitionError, match="takes jobs"):
        Definitions(jobs=[url_of])


def test_a_resource_typed_field_is_a_resource_set_up_before_and_torn_down_after_the_outer_one():
    events = []

    class Connection(ConfigurableResource):
        dsn: str

        def setup_for_execution(self, context) -> None:
            events.append(f"connect {self.dsn}")

        def teardown_after_execution(self, context) -> None:
            events.append("disconnect")

    class Repository(ConfigurableResource):
        connection: Connection
        table: str = "t"

        def setup_for_execution(self, context) -> None:
            events.append(f"open {self.table} on {self.connection.dsn}")

        def teardown_after_execution(self, context) -> None:
            events.append("close")

    @op
    def table_of(repository: Repository) -> str:
        return f"{repository.connection.dsn}/{repository.table}"

    @job(resource_defs={"repository": Repository(connection=Connection(dsn="pg://g"))})
    def listing():
        table_of()

    config = listing.run_config_schema().to_json()["fields"]["resources"]["fields"]["repository"]["fields"]["config"]
    assert list(config["fields"]) == ["table"]
    result = listing.execute_in_process(run_config={"resources": {"repository": {"config": {"table": "u"}}}})
    assert result.output_for_node("table_of") == "pg://g/u"
    assert events == ["connect pg://g", "open u on pg://g", "close", "disconnect"]
    with pytest.raises(InvalidDefinitionError, match=r"Resource Repository: the resources it depends on \(connection\)"):
        @job(resource_defs={"repository": Repository.configure_at_launch()})
        def unconnected():
            table_of()


def test_a_resource_function_can_be_called_directly_with_its_config_defaulted():
    @resource(config_schema={"host": str, "port": Field(int, default_value=5432)})
    def address(init_context):
        yield f"{init_context.resource_config['host']}:{init_context.resource_config['port']}"

    with address(build_init_resource_context(config={"host": "db"})) as value:
        assert value == "db:5432"
