"""``Run.statusTiles`` over HTTP against a real daphne server: tiles add up to the node's counts per status,
a range narrows them, a tile count out of bounds is a BAD_USER_INPUT error, and an unknown node has no tiles.

Steps are written straight into the (committed) test database, so each test knows every status it asks about.
"""

from __future__ import annotations

import math

from runs.models import Run, Step

TILES = """query($id: ID!, $node: String!, $tiles: Int!, $from: Int, $to: Int) {
  run(id: $id) { statusTiles(node: $node, tiles: $tiles, fromOrder: $from, toOrder: $to) {
    node fromOrder toOrder span tileCount total maxTileCount statuses counts
    tiles { fromOrder toOrder count counts } } }
}"""
STATUSES = ["PENDING", "RUNNING", "SUCCESS", "FAILURE", "SKIPPED", "REUSED", "CANCELED"]


def write_run(keys: int) -> tuple[Run, dict[int, str]]:
    """A run of ``emit`` and ``work[k0..]`` (interleaved with ``log[k..]`` steps, as two mapped ops are); every
    7th key failed, every 11th is running; ``total`` last. The work steps' orders and statuses."""
    run = Run.objects.create(job_name="written_by_test", status="STARTED", output_store="memory://")
    rows = [Step(run=run, key="emit", node="emit", order=0, status="SUCCESS")]
    work: dict[int, str] = {}
    for index in range(keys):
        status = "FAILURE" if index % 7 == 3 else "RUNNING" if index % 11 == 5 else "SUCCESS"
        order = 1 + 2 * index
        work[order] = status
        rows.append(Step(run=run, key=f"work[k{index}]", node="work", mapping_keys=[f"k{index}"], order=order,
                         status=status))
        rows.append(Step(run=run, key=f"log[k{index}]", node="log", mapping_keys=[f"k{index}"], order=order + 1,
                         status="PENDING"))
    rows.append(Step(run=run, key="total", node="total", order=2 * keys + 1, status="PENDING"))
    Step.objects.bulk_create(rows)
    return run, work


def tiles_of(live, run: Run, node: str, tiles: int, **bounds) -> dict:
    variables = {"id": str(run.id), "node": node, "tiles": tiles, "from": bounds.get("lo"), "to": bounds.get("hi")}
    return live.api(TILES, variables)["run"]["statusTiles"]


def per_status(statuses) -> dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for status in statuses:
        counts[status] += 1
    return counts


def test_tiles_add_up_to_the_nodes_counts_per_status_and_cover_its_orders(live):
    run, work = write_run(1000)
    answer = tiles_of(live, run, "work", 64)
    assert answer["statuses"] == STATUSES
    assert (answer["fromOrder"], answer["toOrder"], answer["span"]) == (1, 1999, 1999)
    assert answer["tileCount"] == 64 and answer["total"] == 1000
    expected = per_status(work.values())
    assert [sum(answer["counts"][i::7]) for i in range(7)] == [expected[status] for status in STATUSES]
    # the spelled-out tiles agree with the compact counts, are contiguous, and each holds exactly its orders' steps
    tiles = answer["tiles"]
    assert [value for tile in tiles for value in tile["counts"]] == answer["counts"]
    assert tiles[0]["fromOrder"] == 1 and tiles[-1]["toOrder"] == 1999
    for before, after in zip(tiles, tiles[1:]):
        assert after["fromOrder"] == before["toOrder"] + 1
    for tile in tiles:
        inside = [status for order, status in work.items() if tile["fromOrder"] <= order <= tile["toOrder"]]
        assert tile["counts"] == [per_status(inside)[status] for status in STATUSES]
        assert tile["count"] == len(inside)
    assert answer["maxTileCount"] == max(tile["count"] for tile in tiles)
    assert answer["maxTileCount"] <= math.ceil(1999 / 64 / 2) + 1


def test_a_range_narrows_the_tiles_to_the_steps_inside_it(live):
    run, work = write_run(300)
    answer = tiles_of(live, run, "work", 1000, lo=100, hi=160)
    inside = {order: status for order, status in work.items() if 100 <= order <= 160}
    assert (answer["fromOrder"], answer["toOrder"]) == (min(inside), max(inside))
    assert answer["total"] == len(inside) == 30
    # more tiles than orders: one order per tile, so each tile is at most one key
    assert answer["tileCount"] == answer["span"] == max(inside) - min(inside) + 1
    assert answer["maxTileCount"] == 1
    keyed = {tile["fromOrder"]: tile for tile in answer["tiles"] if tile["count"]}
    assert sorted(keyed) == sorted(inside)
    for order, status in inside.items():
        assert keyed[order]["counts"][STATUSES.index(status)] == 1
    # a range without steps of the node, and one tile for the whole node
    empty = tiles_of(live, run, "work", 10, lo=5000, hi=6000)
    assert (empty["total"], empty["tileCount"], empty["fromOrder"], empty["tiles"]) == (0, 0, None, [])
    whole = tiles_of(live, run, "work", 1)
    assert whole["tileCount"] == 1 and whole["tiles"][0]["count"] == 300


def test_tiles_out_of_bounds_are_bad_user_input_and_an_unknown_node_has_no_tiles(live):
    run, _ = write_run(10)
    for tiles in (0, -1, 20_001):
        errors = live.api.errors(TILES, {"id": str(run.id), "node": "work", "tiles": tiles})
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
        assert errors[0]["extensions"]["argument"] == "tiles"
        assert "between 1 and 20,000" in errors[0]["message"]
    errors = live.api.errors(TILES, {"id": str(run.id), "node": "work", "tiles": 5, "from": 9, "to": 3})
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "fromOrder"}
    unknown = tiles_of(live, run, "no_such_op", 100)
    assert (unknown["total"], unknown["tileCount"], unknown["counts"]) == (0, 0, [])
    static = tiles_of(live, run, "emit", 100)
    assert (static["total"], static["tileCount"], static["counts"]) == (1, 1, [0, 0, 1, 0, 0, 0, 0])


CAPPED_UPDATES = """subscription($runId: ID!, $max: Int) { runUpdates(runId: $runId, maxSteps: $max) {
  status finished nodeStats { node total succeeded } steps { key status } } }"""


def test_run_updates_with_max_steps_carry_few_steps_and_every_nodes_counts(live):
    """The live side of a big run's page: updates stay small and the counts still reach the final state."""
    import asyncio

    from tests.graphql.conftest import gql_subscribe

    config = {"ops": {"emit_keys": {"config": {"n": 30}}, "flaky_work": {"config": {"fail_keys": [], "sleep_ms": 20}}}}
    run_id = live.launch("flaky_fanout", config)

    async def watch() -> list[dict]:
        variables = {"runId": run_id, "max": 2}
        return [data["runUpdates"] async for data in gql_subscribe(live.ws_url, CAPPED_UPDATES, variables)]

    updates = asyncio.run(watch())
    assert updates[-1]["finished"] and updates[-1]["status"] == "SUCCESS"
    assert all(len(update["steps"]) <= 2 for update in updates)
    capped = [update for update in updates[1:] if len(update["nodeStats"]) == 3]
    assert capped, "no update was capped: the test proved nothing"
    latest = {}
    for update in updates:
        latest.update({stats["node"]: stats for stats in update["nodeStats"]})
    assert latest["flaky_work"] == {"node": "flaky_work", "total": 30, "succeeded": 30}
