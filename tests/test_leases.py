"""Host buckets held as pgqueuer jobs (monitor.store.leases), on a real PostgreSQL: claims split the buckets, a
daemon that stops renewing loses them to the others, and one whose buckets were taken while it could not reach
the store neither renews nor writes for them when it comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from monitor.store import leases
from monitor.store.postgres import PostgresStore

TOTAL = 8
TTL = 1.0
STARTED = datetime(2026, 12, 5, tzinfo=UTC)


async def beat(db: asyncpg.Connection, node: str, release: tuple[int, ...] = (), claim: bool = True) -> leases.Beat:
    async with db.transaction():
        return await leases.beat(db, node, f"http://127.0.0.1/{node}", 1, STARTED, "ok", TOTAL, TTL, release, claim)


async def held(db: asyncpg.Connection, node: str) -> set[int]:
    async with db.transaction():
        return await leases.held(db, node, TTL)


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a store migrated (pgqueuer's tables among its migrations)."""
    store = PostgresStore(postgres_url)
    await store.open()
    await store.close()
    connection = await asyncpg.connect(postgres_url)
    yield connection
    await connection.close()


async def test_two_daemons_split_the_buckets_and_give_back_on_leave(db: asyncpg.Connection) -> None:
    first = await beat(db, "a")
    assert first.held == frozenset()  # jobs are queued in this beat, claimable from the next
    await asyncio.sleep(0.01)
    assert (await beat(db, "a")).held == frozenset(range(TOTAL))  # alone: everything
    b = await beat(db, "b")  # a second member: the share halves, nothing is free yet
    assert (b.share, b.held, b.members) == (TOTAL // 2, frozenset(), 2)
    a = await beat(db, "a", release=(4, 5, 6, 7))  # "a" drains its excess and gives it back
    assert a.held == frozenset(range(4))
    await asyncio.sleep(0.01)
    assert (await beat(db, "b")).held == frozenset(range(4, 8))
    assert await held(db, "a") == set(range(4)) and await held(db, "b") == set(range(4, 8))
    assert {m.node: m.buckets for m in await leases.members(db)} == {"a": (0, 1, 2, 3), "b": (4, 5, 6, 7)}
    assert await leases.unheld(db, TOTAL) == 0
    # no bucket is ever held twice: the dedupe key keeps one job per bucket whoever enqueues
    assert await db.fetchval("SELECT count(*) FROM pgqueuer") == TOTAL
    async with db.transaction():
        await leases.leave(db, "a")
    assert await leases.unheld(db, TOTAL) == 4 and await held(db, "a") == set()
    await asyncio.sleep(0.01)
    assert (await beat(db, "b")).held == frozenset(range(TOTAL))


async def test_a_silent_daemon_loses_its_buckets_and_cannot_take_them_back(db: asyncpg.Connection) -> None:
    await beat(db, "a")
    await beat(db, "b")
    await asyncio.sleep(0.01)
    await beat(db, "a")
    await beat(db, "b")
    split = await held(db, "a"), await held(db, "b")
    assert len(split[0]) == len(split[1]) == 4 and split[0] | split[1] == set(range(TOTAL))
    await asyncio.sleep(TTL + 0.2)  # "a" falls silent (killed, or cut off from the store)
    assert await held(db, "a") == set()  # its results are no longer written
    assert (await beat(db, "b")).held == frozenset(range(TOTAL))  # stale jobs re-picked at once
    # "a" comes back: its jobs are picked under "b" now; it renews none of them and its share is claimed
    a = await beat(db, "a")
    assert a.held == frozenset() and await held(db, "a") == set()
    assert await held(db, "b") == set(range(TOTAL))
    rows = await db.fetch("SELECT status, queue_manager_id FROM pgqueuer")
    assert {(r["status"], r["queue_manager_id"]) for r in rows} == {("picked", leases.worker_id("b"))}


async def test_a_probe_is_cleared_only_for_a_bucket_held_and_its_intent_read_back(db: asyncpg.Connection) -> None:
    await beat(db, "a")
    await asyncio.sleep(0.01)
    mine = (await beat(db, "a")).held
    bucket = min(mine)
    at = datetime(2026, 12, 5, 10, 0, 1, tzinfo=UTC)
    async with db.transaction():
        cleared = await leases.intend(db, "a", TTL, [("c1", bucket, at), ("c2", TOTAL + 1, at)])
    assert cleared == {"c1"}  # c2's bucket is nobody's: not cleared, not recorded
    async with db.transaction():  # a daemon holding nothing has nothing cleared
        assert await leases.intend(db, "b", TTL, [("c1", bucket, at)]) == set()
    assert await leases.intents(db, ["c1", "c2"]) == {"c1": at}
