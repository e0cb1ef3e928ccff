"""``Run.statusTiles``: a node's steps as at most ``tiles`` tiles of equal order ranges, with counts per status.

The counting is ``runs.services.status_tiles`` (two indexed queries whatever the number of keys); this
module declares the types and turns an argument out of bounds into a GraphQL error with
``extensions.code = "BAD_USER_INPUT"`` and ``extensions.argument`` naming it.

Bounds: one answer holds at most ``MAX_TILES`` tiles (of ``len(statuses)`` integers each) from one
``GROUP BY``; the query limits (``runs.graphql.limits``) cap how many aliases may repeat the field in
one request and the time budget stops a request that asks for too many.
"""

from __future__ import annotations

import graphene

from runs.errors import ArgumentOutOfBoundsError
from runs.graphql.enums import StepStatus
from runs.graphql.errors import out_of_bounds
from runs.models import Run
from runs.services.status_tiles import MAX_TILES, STATUSES, StatusTiles, status_tiles



class StatusTile(graphene.ObjectType):
    """One tile: a range of yield orders of the node, and how many of its steps are in each status."""

    from_order = graphene.Int(required=True, description="The tile's first order (inclusive).")
    to_order = graphene.Int(required=True, description="The tile's last order (inclusive).")
    count = graphene.Int(required=True, description="Steps in the tile (0 when its orders belong to other nodes).")
    counts = graphene.List(graphene.NonNull(graphene.Int), required=True,
                           description="Steps per status, in the order of StatusTiles.statuses.")


class StatusTilesType(graphene.ObjectType):
    class Meta:
        name = "StatusTiles"
        description = (
            "A node's steps cut into equal ranges of their yield order (Step order: steps of a run are numbered as "
            "they are created). Tile i covers the orders fromOrder + ceil(i * span / tileCount) to fromOrder + "
            "ceil((i + 1) * span / tileCount) - 1, with span = toOrder - fromOrder + 1. `counts` is the compact form "
            "(tileCount x len(statuses) integers, tile by tile, statuses in the order of `statuses`); `tiles` "
            "spells the same out per tile.")

    node = graphene.String(required=True)
    from_order = graphene.Int(description="The node's first order in the range asked for (null: no step there).")
    to_order = graphene.Int(description="The node's last order in the range asked for.")
    span = graphene.Int(required=True, description="toOrder - fromOrder + 1 (0 without steps).")
    tile_count = graphene.Int(required=True, description="At most `tiles`, and at most span.")
    total = graphene.Int(required=True, description="Steps of the node in the range: the sum of every tile's count.")
    max_tile_count = graphene.Int(required=True, description="Steps in the fullest tile (1: one key per tile).")
    statuses = graphene.List(graphene.NonNull(StepStatus), required=True, description="The order of the counts.")
    counts = graphene.List(graphene.NonNull(graphene.Int), required=True,
                           description="tileCount x len(statuses) integers: tile 0's counts per status, then "
                                       "tile 1's...")
    tiles = graphene.List(graphene.NonNull(StatusTile), required=True)

    @staticmethod
    def resolve_from_order(result: StatusTiles, info):
        return result.lo

    @staticmethod
    def resolve_to_order(result: StatusTiles, info):
        return result.hi

    @staticmethod
    def resolve_max_tile_count(result: StatusTiles, info):
        return max((sum(result.tile_counts(index)) for index in range(result.tile_count)), default=0)

    @staticmethod
    def resolve_statuses(result: StatusTiles, info):
        return list(STATUSES)

    @staticmethod
    def resolve_tiles(result: StatusTiles, info):
        tiles = []
        for index in range(result.tile_count):
            first, last = result.tile_bounds(index)
            counts = result.tile_counts(index)
            tiles.append(StatusTile(from_order=first, to_order=last, count=sum(counts), counts=counts))
        return tiles


STATUS_TILES_DESCRIPTION = (
    f"The node's steps as at most `tiles` (1 to {MAX_TILES:,}) tiles of equal ranges of their yield order, each with "
    "its count per status: the run page's status grid for nodes with more keys than pixels. `fromOrder`/`toOrder` "
    "(inclusive, optional) narrow the range (zoom); the tiles then cover the node's first to last order inside it. "
    "An unknown node has no tiles (total 0). Arguments out of bounds are refused with extensions.code BAD_USER_INPUT.")


def resolve_status_tiles(run: Run, info, node: str, tiles: int, from_order: int | None = None,
                         to_order: int | None = None) -> StatusTiles:
    try:
        return status_tiles(run, node, tiles, from_order, to_order)
    except ArgumentOutOfBoundsError as error:
        raise out_of_bounds(error) from None


status_tiles_field = graphene.Field(
    StatusTilesType, required=True, node=graphene.String(required=True), tiles=graphene.Int(required=True),
    from_order=graphene.Int(), to_order=graphene.Int(), resolver=resolve_status_tiles,
    description=STATUS_TILES_DESCRIPTION)
