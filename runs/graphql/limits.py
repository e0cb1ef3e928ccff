"""Limits on what one GraphQL request may make the server do, over HTTP and websockets alike.

Before execution, from the document and its variables alone: its size in characters (before
parsing) and in tokens (while parsing), then per operation its depth, its field selections, its
aliases and an estimated cost (``parse_within_limits``). A refused document never reaches a resolver.

During execution (``within_limits`` and ``TimeBudgetMiddleware``): a query stops at its time
budget, and heavy fields (``heavy_field``) are resolved a bounded number of times per request.

The limits are read from the settings on every request (``DAGVIZ_GRAPHQL_*``), so they can be
changed without touching code; ``docs/security.md`` lists them.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from django.conf import settings
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_interface_type,
    is_object_type,
    parse,
    validate,
    value_from_ast_untyped,
)

from runs.graphql.pagination import DEFAULT_PAGE, MAX_PAGE

TOO_LARGE = "QUERY_TOO_LARGE"
TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_FIELDS = "QUERY_TOO_MANY_FIELDS"
TOO_MANY_ALIASES = "QUERY_TOO_MANY_ALIASES"
TOO_COSTLY = "QUERY_TOO_COSTLY"
TIME_BUDGET_EXCEEDED = "QUERY_TIME_BUDGET_EXCEEDED"
TOO_MANY_PREVIEWS = "QUERY_TOO_MANY_PREVIEWS"

# Introspection roots: their selections walk the schema in memory, whose size no query can grow,
# and GraphiQL's own introspection query nests 13 levels deep. They count as one level and one unit
# of cost; their fields and aliases still count.
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class QueryLimits:
    max_query_chars: int
    max_tokens: int
    max_depth: int
    max_fields: int
    max_aliases: int
    max_cost: int
    time_budget_seconds: float
    max_previews: int


def current_limits() -> QueryLimits:
    """The limits the settings give now (read per request, so a changed setting applies at once)."""
    return QueryLimits(
        max_query_chars=settings.DAGVIZ_GRAPHQL_MAX_QUERY_CHARS,
        max_tokens=settings.DAGVIZ_GRAPHQL_MAX_TOKENS,
        max_depth=settings.DAGVIZ_GRAPHQL_MAX_DEPTH,
        max_fields=settings.DAGVIZ_GRAPHQL_MAX_FIELDS,
        max_aliases=settings.DAGVIZ_GRAPHQL_MAX_ALIASES,
        max_cost=settings.DAGVIZ_GRAPHQL_MAX_COST,
        time_budget_seconds=settings.DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS,
        max_previews=settings.DAGVIZ_GRAPHQL_MAX_PREVIEWS,
    )


def limit_error(message: str, code: str, nodes: Any = None, path: list[str | int] | None = None) -> GraphQLError:
    return GraphQLError(message, nodes, path=path, extensions={"code": code})


# -- before execution ---------------------------------------------------------------------------------


def parse_within_limits(schema: GraphQLSchema, query: str,
                        variables: Any) -> tuple[DocumentNode | None, list[GraphQLError]]:
    """``query`` parsed, and the errors that refuse it before anything runs (none: within every limit).

    Checked cheapest first, so an oversized document costs little to refuse: its length before
    parsing, its tokens while parsing, then depth, fields, aliases and cost on the parsed document.
    A syntax error is returned as parsing reports it.
    """
    limits = current_limits()
    if len(query) > limits.max_query_chars:
        return None, [limit_error(f"Query has {len(query):,} characters, more than the limit "
                                  f"{limits.max_query_chars:,} (DAGVIZ_GRAPHQL_MAX_QUERY_CHARS).", TOO_LARGE)]
    try:
        document = parse(query, max_lexical_tokens=limits.max_tokens, max_comments=limits.max_tokens)
    except GraphQLError as error:
        return None, [parse_refusal(error, limits)]
    # Only the limits here: the rules of the specification (some quadratic in the number of fields)
    # run afterwards, on documents these have found small enough.
    return document, validate(schema, document, [limits_rule(limits, variables)])


def parse_refusal(error: GraphQLError, limits: QueryLimits) -> GraphQLError:
    """The error for a document the parser gave up on: ours when it stopped at one of its limits."""
    if "Document contains more than" in error.message:  # graphql-core's token and comment limits
        return limit_error(f"Query has more than {limits.max_tokens:,} tokens or comments "
                           "(DAGVIZ_GRAPHQL_MAX_TOKENS).", TOO_LARGE)
    if "nested too deeply" in error.message:  # deeper than the parser's recursion allows
        return limit_error(f"Query is nested too deeply to parse; the limit is {limits.max_depth} levels "
                           "(DAGVIZ_GRAPHQL_MAX_DEPTH).", TOO_DEEP)
    return error


def refuse_over_limits(schema: GraphQLSchema, query: str, variables: Any) -> list[GraphQLError]:
    """The errors of ``parse_within_limits`` alone, for a caller that parses the query itself."""
    return parse_within_limits(schema, query, variables)[1]


def limits_rule(limits: QueryLimits, variables: Any) -> type[ValidationRule]:
    """A validation rule checking each operation of a document against ``limits``.

    It needs the request's variables (``first: $first`` decides the cost), which a validation
    context does not carry, hence a rule made per request.
    """
    given = dict(variables) if isinstance(variables, Mapping) else {}

    class QueryLimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            for error in check_operation(self.context.schema, self.context.document, node, given, limits):
                self.report_error(error)
            return self.SKIP  # the operation was measured as a whole; nothing more to visit

        def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> Any:
            return self.SKIP  # measured where they are spread, as often as they are

    return QueryLimitsRule


@dataclass
class Size:
    """What a selection set asks for. ``cost`` is for one instance of its parent; it scales with the pages above."""

    depth: int = 0
    fields: int = 0
    aliases: int = 0
    cost: int = 0

    def add(self, other: "Size") -> None:
        self.depth = max(self.depth, other.depth)
        self.fields += other.fields
        self.aliases += other.aliases
        self.cost += other.cost


def check_operation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                    variables: dict[str, Any], limits: QueryLimits) -> list[GraphQLError]:
    try:
        size = Measure(schema, document, operation, variables).operation()
    except RecursionError:  # fragments spread in a chain longer than Python's stack: too deep by any measure
        return [limit_error(f"Query is nested too deeply to measure; the limit is {limits.max_depth} levels "
                            "(DAGVIZ_GRAPHQL_MAX_DEPTH).", TOO_DEEP, operation)]
    checks = [
        (size.depth > limits.max_depth, TOO_DEEP,
         f"Query depth {size.depth} exceeds the limit {limits.max_depth} (DAGVIZ_GRAPHQL_MAX_DEPTH)."),
        (size.fields > limits.max_fields, TOO_MANY_FIELDS,
         f"Query selects {size.fields:,} fields, more than the limit {limits.max_fields:,} "
         "(DAGVIZ_GRAPHQL_MAX_FIELDS); fragments count each time they are spread."),
        (size.aliases > limits.max_aliases, TOO_MANY_ALIASES,
         f"Query uses {size.aliases:,} aliases, more than the limit {limits.max_aliases:,} "
         "(DAGVIZ_GRAPHQL_MAX_ALIASES)."),
        (size.cost > limits.max_cost, TOO_COSTLY,
         f"Query cost {size.cost:,} exceeds the limit {limits.max_cost:,} (DAGVIZ_GRAPHQL_MAX_COST): each field "
         f"counts once per item of the pages it is under (first, {DEFAULT_PAGE} when absent); ask for smaller "
         "pages or fewer fields."),
    ]
    return [limit_error(message, code, operation) for exceeded, code, message in checks if exceeded]


class Measure:
    """Depth, fields, aliases and cost of one operation, following fragments.

    Each fragment is measured once (its cost per instance scales linearly with the pages above
    its spread), so fragments spread in a tree cost nothing to measure however large they expand;
    a fragment spread inside itself counts as empty (the specification's rules refuse it next).
    """

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: dict[str, Any]) -> None:
        self.schema = schema
        self.operation_node = operation
        self.fragments = {node.name.value: node for node in document.definitions
                          if isinstance(node, FragmentDefinitionNode)}
        self.variables = {**defaults_of(operation), **variables}
        self.measured: dict[str, Size] = {}
        self.measuring: set[str] = set()

    def operation(self) -> Size:
        root = self.schema.get_root_type(self.operation_node.operation)
        return self.selections(self.operation_node.selection_set, root)

    def selections(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None) -> Size:
        size = Size()
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                size.add(self.field(selection, parent))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                size.add(self.selections(selection.selection_set,
                                         self.schema.get_type(condition.name.value) if condition else parent))
            elif isinstance(selection, FragmentSpreadNode):
                size.add(self.fragment(selection.name.value))
        return size

    def fragment(self, name: str) -> Size:
        if name in self.measured:
            return self.measured[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.measuring:  # unknown or cyclic: the specification's rules refuse it
            return Size()
        self.measuring.add(name)
        size = self.selections(definition.selection_set, self.schema.get_type(definition.type_condition.name.value))
        self.measuring.discard(name)
        self.measured[name] = size
        return size

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Size:
        definition = fields_of(parent).get(node.name.value)
        below = self.selections(node.selection_set, get_named_type(definition.type) if definition else None)
        aliases = below.aliases + (1 if node.alias else 0)
        if node.name.value in INTROSPECTION_ROOTS:
            return Size(depth=1, fields=1 + below.fields, aliases=aliases, cost=1)
        items = self.page(node) if definition is not None and "first" in definition.args else 1
        return Size(depth=1 + below.depth, fields=1 + below.fields, aliases=aliases, cost=items * (1 + below.cost))

    def page(self, node: FieldNode) -> int:
        """How many items a connection field will return, as ``pagination.page_size`` will decide."""
        argument = next((arg for arg in node.arguments if arg.name.value == "first"), None)
        if argument is None:
            return DEFAULT_PAGE
        if isinstance(argument.value, VariableNode):
            value = self.variables.get(argument.value.name.value)
        else:
            value = value_from_ast_untyped(argument.value)
        if value is None:
            return DEFAULT_PAGE
        if isinstance(value, bool) or not isinstance(value, int):
            return MAX_PAGE  # execution will refuse it; until then, assume the largest page
        return min(max(value, 0), MAX_PAGE)


def defaults_of(operation: OperationDefinitionNode) -> dict[str, Any]:
    return {definition.variable.name.value: value_from_ast_untyped(definition.default_value)
            for definition in operation.variable_definitions or () if definition.default_value is not None}


def fields_of(parent: GraphQLNamedType | None) -> dict[str, Any]:
    return parent.fields if is_object_type(parent) or is_interface_type(parent) else {}  # type: ignore[union-attr]


# -- during execution ---------------------------------------------------------------------------------


@dataclass
class Execution:
    """One execution of a document: when it started, and how many heavy fields it resolved."""

    limits: QueryLimits
    started: float = field(default_factory=time.monotonic)
    heavy: Counter[str] = field(default_factory=Counter)


_EXECUTION: ContextVar[Execution | None] = ContextVar("dagviz_graphql_execution", default=None)


class TimeBudgetExceeded(BaseException):
    """Stops an execution at its time budget.

    Not an ``Exception``: graphql-core turns each ``Exception`` a resolver raises into a null and
    an error for that field, then goes on with the next field, which is the very work the budget
    is there to stop. ``within_limits`` catches it and answers with its error.
    """

    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        self.error = error


def within_limits(execute: Callable[..., ExecutionResult | None]) -> Callable[..., ExecutionResult | None]:
    """``execute`` (one execution of a document) held to the time budget and the heavy-field counts.

    The state lives in a context variable rather than on the GraphQL context, so it belongs to
    exactly this execution whatever context object the caller passes.
    """

    @functools.wraps(execute)
    def run(*args: Any, **kwargs: Any) -> ExecutionResult | None:
        token = _EXECUTION.set(Execution(current_limits()))
        try:
            return execute(*args, **kwargs)
        except TimeBudgetExceeded as stop:
            return ExecutionResult(data=None, errors=[stop.error])
        finally:
            _EXECUTION.reset(token)

    return run


class TimeBudgetMiddleware:
    """Refuses to resolve any further field of a query once its time budget is spent.

    Queries only: a mutation's root field is an action the client asked for, and stopping its
    answer half-way would hide whether it happened (mutations are held by the limits checked
    before execution). Subscription payloads run without field middleware in graphql-core 3.2
    and outside ``within_limits``, so a subscription lives as long as it needs; each of
    its payloads is a small object built from data already read.
    """

    def resolve(self, next_: Callable[..., Any], root: Any, info: Any, **args: Any) -> Any:
        execution = _EXECUTION.get()
        if execution is not None and info.operation.operation is OperationType.QUERY:
            budget = execution.limits.time_budget_seconds
            if time.monotonic() - execution.started > budget:
                raise TimeBudgetExceeded(limit_error(
                    f"Query exceeded its time budget of {budget:g} s (DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS); "
                    "it was stopped here. Ask for smaller pages or fewer fields.",
                    TIME_BUDGET_EXCEEDED, info.field_nodes, info.path.as_list()))
        return next_(root, info, **args)


def heavy_field(resolver: Callable[..., Any]) -> Callable[..., Any]:
    """For a nullable field that reads stored outputs or large text: resolved at most
    ``DAGVIZ_GRAPHQL_MAX_PREVIEWS`` times per request, null beyond that.

    The first refused value carries one error naming the limit; the rest are null silently, so a
    page of many steps still answers instead of failing as a whole.
    """

    @functools.wraps(resolver)
    def resolve(root: Any, info: Any, **args: Any) -> Any:
        execution = _EXECUTION.get()
        if execution is None:  # the server's own queries (pages rendered in-process) are not limited
            return resolver(root, info, **args)
        name = f"{info.parent_type.name}.{info.field_name}"
        execution.heavy[name] += 1
        limit = execution.limits.max_previews
        if execution.heavy[name] <= limit:
            return resolver(root, info, **args)
        if execution.heavy[name] == limit + 1:
            raise limit_error(f"At most {limit:,} values of {name} are resolved per request "
                              "(DAGVIZ_GRAPHQL_MAX_PREVIEWS); this one and the rest are null.", TOO_MANY_PREVIEWS)
        return None

    return resolve
