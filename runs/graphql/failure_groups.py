"""``Run.failureGroups``: a run's failed steps grouped by cause, live while the run goes on.

The grouping is done in the database (``runs.services.failure_groups``); this module only shapes it.
"""

from __future__ import annotations

import graphene
from graphql import GraphQLError

from runs.services.failure_groups import MAX_GROUPS, failure_groups


class FailureGroupType(graphene.ObjectType):
    class Meta:
        name = "FailureGroup"
        description = "Failed steps of a run with the same error signature (class + normalised message)."

    signature = graphene.String(required=True, description="The group's error signature (a short hex digest); "
                                                            "pass it as failureGroup to re-execute the group.")
    error_class = graphene.String(required=True, description="The exception class, e.g. KeyError.")
    message = graphene.String(required=True, description="The normalised message: numbers <n>, quoted values "
                                                          "'<v>', ids <id>, paths <path>.")
    count = graphene.Int(required=True)
    sample_keys = graphene.List(graphene.NonNull(graphene.String), required=True,
                                description="Up to 5 step keys of the group, in step order.")
    first_failed_at = graphene.DateTime()
    last_failed_at = graphene.DateTime()


def resolve_failure_groups(run, info, first: int | None = 50):
    if first is None:  # an explicit null means the default
        first = 50
    if first < 0 or first > MAX_GROUPS:
        raise GraphQLError(f"first must be between 0 and {MAX_GROUPS}, got {first}.")
    return failure_groups(run, first)


failure_groups_field = graphene.Field(
    graphene.NonNull(graphene.List(graphene.NonNull(FailureGroupType))), first=graphene.Int(default_value=50),
    resolver=resolve_failure_groups,
    description="The run's failed steps grouped by error signature, the largest group first.")
