"""The cluster's share of the shared PostgreSQL store: members, host buckets held through pgqueuer, channel leases.

Several daemons share one fleet by host bucket (``monitor.daemon.cluster``). Each bucket is one pgqueuer job
(entrypoint ``govwatch.bucket``, ``dedupe_key`` ``bucket:N``, so the queue holds exactly one per bucket): a daemon
*holds* a bucket while that job is ``picked`` under its queue-manager id and its heartbeat is fresh. pgqueuer does
the distributed part — its dequeue claims queued jobs, and picked jobs whose heartbeat is older than the timeout
(a daemon that died), with ``FOR UPDATE SKIP LOCKED``, so two daemons never claim the same bucket; its heartbeat
update renews; its retry re-queues a bucket a daemon gives back. PostgreSQL's clock (``now()``) decides what is
stale, so the daemons' clocks need not agree.

Why pgqueuer's queries and not its worker loop (``QueueManager.run``): a bucket is held for hours, not run as a
short job, and the loop's completion, retry and heartbeat writes address a job by id alone. A daemon that lost the
store and came back after its buckets were re-picked elsewhere would renew, end or re-queue the new holder's job.
Here every heartbeat is one transaction that first locks the jobs still picked under this daemon's id and only
then renews or releases them, and every write of results checks, in its own transaction, that the daemon still
holds the buckets it writes for (``held``, ``FOR SHARE``: the bucket cannot be re-picked until the write
commits).

An outbox channel (one receiver, or MQTT) is delivered by one daemon at a time: ``claim_channel`` takes or
renews its lease, the sender gives it back when the channel has nothing due.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.models import Job
from pgqueuer.ports.repository import EntrypointExecutionParameter
from pgqueuer.types import QueueEntrypoint, QueueManagerId

ENTRYPOINT = "govwatch.bucket"
_NODES = uuid.UUID("6b1f3a52-7d0c-4f4e-9a55-3c2f7a0e9b11")  # namespace of the daemons' queue-manager ids

# pgqueuer's tables (its install DDL for the version pinned in pyproject), the cluster's member and channel tables
TABLES = QueryBuilderEnvironment().build_install_query() + """;
    CREATE TABLE cluster_members (
        node text PRIMARY KEY, worker uuid NOT NULL, board text NOT NULL, pid integer NOT NULL,
        started_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL, ttl_s double precision NOT NULL,
        state text NOT NULL
    );
    CREATE TABLE outbox_channels (channel text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL)
"""

# The jobs picked under one daemon's id (locked by the caller's clause)
_MINE = f"SELECT * FROM pgqueuer WHERE entrypoint = '{ENTRYPOINT}' AND status = 'picked' AND queue_manager_id = $1"


def worker_id(node: str) -> QueueManagerId:
    """The pgqueuer queue-manager id of a daemon: the same for the same node name, so a daemon that restarts finds
    the buckets it held (if nobody took them meanwhile)."""
    return QueueManagerId(uuid.uuid5(_NODES, node))


def _bucket(job: Job | asyncpg.Record) -> int:
    return int(bytes(job["payload"] if isinstance(job, asyncpg.Record) else job.payload or b"-1"))


@dataclass(frozen=True, slots=True)
class Beat:
    """What one heartbeat leaves: the buckets this daemon holds, its fair share, the live members."""

    held: frozenset[int]
    share: int
    members: int


@dataclass(frozen=True, slots=True)
class Member:
    node: str
    board: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    alive: bool
    state: str
    buckets: tuple[int, ...]


async def beat(db: asyncpg.Connection, node: str, board: str, pid: int, started_at: datetime, state: str,
               total: int, ttl_s: float, release: Sequence[int], claim: bool) -> Beat:
    """One heartbeat (in the caller's transaction): renew, give back ``release``, claim up to the fair share
    (``claim`` False: a daemon that is stopping claims nothing)."""
    queries = Queries.from_asyncpg_connection(db)
    worker = worker_id(node)
    if await db.fetchval("SELECT count(*) FROM pgqueuer WHERE entrypoint = $1", ENTRYPOINT) < total:
        await queries.enqueue([ENTRYPOINT] * total, [str(b).encode() for b in range(total)], [0] * total,
                              dedupe_key=[f"bucket:{b}" for b in range(total)], on_conflict="skip")
    await db.execute(
        """INSERT INTO cluster_members (node, worker, board, pid, started_at, heartbeat_at, ttl_s, state)
           VALUES ($1, $2, $3, $4, $5, now(), $6, $7)
           ON CONFLICT (node) DO UPDATE SET worker = excluded.worker, board = excluded.board, pid = excluded.pid,
             started_at = excluded.started_at, heartbeat_at = now(), ttl_s = excluded.ttl_s, state = excluded.state""",
        node, worker, board, pid, started_at, float(ttl_s), state)
    mine = [Job.model_validate(dict(r)) for r in await db.fetch(_MINE + " FOR UPDATE", worker)]
    given = set(release)
    for job in mine:
        if _bucket(job) in given or _bucket(job) >= total:
            await queries.retry_job(job, timedelta(0), None)  # queued again: the others claim it
    kept = [job for job in mine if _bucket(job) not in given and _bucket(job) < total]
    await queries.update_heartbeat([job.id for job in kept])
    held = {_bucket(job) for job in kept}
    members = await db.fetchval("SELECT count(*) FROM cluster_members WHERE heartbeat_at > now() - ttl_s * interval"
                                " '1 second'")
    share = math.ceil(total / max(members, 1))
    if claim and len(held) < share:
        taken = await queries.dequeue(share - len(held), {QueueEntrypoint(ENTRYPOINT): EntrypointExecutionParameter(0)},
                                      worker, None, timedelta(seconds=ttl_s))
        held |= {_bucket(job) for job in taken}
    return Beat(frozenset(held), share, members)


async def leave(db: asyncpg.Connection, node: str) -> None:
    """A daemon stopping cleanly: its buckets are queued again at once, its channels free, its member row gone."""
    queries = Queries.from_asyncpg_connection(db)
    for row in await db.fetch(_MINE + " FOR UPDATE", worker_id(node)):
        await queries.retry_job(Job.model_validate(dict(row)), timedelta(0), None)
    await db.execute("DELETE FROM outbox_channels WHERE owner = $1", node)
    await db.execute("DELETE FROM cluster_members WHERE node = $1", node)


async def held(db: asyncpg.Connection, node: str, ttl_s: float, among: Collection[int] | None = None) -> set[int]:
    """The buckets ``node`` holds now (of ``among``, if given), locked against other daemons' claims until the
    transaction ends."""
    wanted = None if among is None else [str(b).encode() for b in among]
    rows = await db.fetch("SELECT payload FROM pgqueuer WHERE entrypoint = $1 AND status = 'picked'"
                          " AND queue_manager_id = $2 AND heartbeat > now() - make_interval(secs => $3)"
                          " AND ($4::bytea[] IS NULL OR payload = ANY($4::bytea[])) FOR SHARE",
                          ENTRYPOINT, worker_id(node), float(ttl_s), wanted)
    return {_bucket(r) for r in rows}


async def intend(db: asyncpg.Connection, node: str, ttl_s: float, probes: Sequence[tuple[str, int, datetime]]
                 ) -> set[str]:
    """Record the probes (target id, its bucket, when) ``node`` is about to make, those of buckets it still holds
    (locked until the commit): the ones recorded, which it may make. A daemon taking a bucket over schedules a target
    one interval after its last intent, so a probe a daemon made just before it died is not made again."""
    mine = await held(db, node, ttl_s, {bucket for _, bucket, _ in probes})
    allowed = [(tid, at) for tid, bucket, at in probes if bucket in mine]
    if allowed:
        await db.execute(
            """INSERT INTO probe_intents (target_id, at) SELECT * FROM unnest($1::text[], $2::timestamptz[])
               ON CONFLICT (target_id) DO UPDATE SET at = excluded.at""",
            [tid for tid, _ in allowed], [at for _, at in allowed])
    return {tid for tid, _ in allowed}


async def intents(db: asyncpg.Connection, target_ids: Sequence[str]) -> dict[str, datetime]:
    """When a daemon last set out to probe each of these targets."""
    rows = await db.fetch("SELECT target_id, at FROM probe_intents WHERE target_id = ANY($1::text[])",
                          list(target_ids))
    return {tid: at for tid, at in rows}


async def claim_channel(db: asyncpg.Connection, channel: str, node: str, ttl_s: float) -> bool:
    """Take or renew the lease on one outbox channel; False while another daemon holds it."""
    row = await db.fetchrow(
        """INSERT INTO outbox_channels (channel, owner, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
           ON CONFLICT (channel) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE outbox_channels.owner = excluded.owner OR outbox_channels.expires_at <= now()
           RETURNING owner""", channel, node, float(ttl_s))
    return row is not None


async def release_channel(db: asyncpg.Connection, channel: str, node: str) -> None:
    await db.execute("DELETE FROM outbox_channels WHERE channel = $1 AND owner = $2", channel, node)


async def channels_elsewhere(db: asyncpg.Connection, node: str) -> set[str]:
    """The channels another daemon is delivering now."""
    rows = await db.fetch("SELECT channel FROM outbox_channels WHERE owner <> $1 AND expires_at > now()", node)
    return {r[0] for r in rows}


async def members(db: asyncpg.Connection) -> list[Member]:
    """Every daemon known to the cluster, with the buckets it holds (``govwatch cluster status``)."""
    rows = await db.fetch(
        f"""SELECT m.node, m.board, m.pid, m.started_at, m.heartbeat_at,
                  m.heartbeat_at > now() - m.ttl_s * interval '1 second', m.state,
                  coalesce(array_agg(convert_from(j.payload, 'UTF8')::integer ORDER BY j.id)
                           FILTER (WHERE j.id IS NOT NULL), '{{}}')
           FROM cluster_members AS m
           LEFT JOIN pgqueuer AS j ON j.entrypoint = '{ENTRYPOINT}' AND j.status = 'picked'
             AND j.queue_manager_id = m.worker AND j.heartbeat > now() - m.ttl_s * interval '1 second'
           GROUP BY m.node ORDER BY m.node""")
    return [Member(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(sorted(r[7]))) for r in rows]


async def unheld(db: asyncpg.Connection, total: int) -> int:
    """Buckets no live daemon holds now (queued, or picked by a daemon whose heartbeat stopped)."""
    held_now = await db.fetchval(
        f"""SELECT count(*) FROM pgqueuer AS j JOIN cluster_members AS m ON m.worker = j.queue_manager_id
            WHERE j.entrypoint = '{ENTRYPOINT}' AND j.status = 'picked'
              AND j.heartbeat > now() - m.ttl_s * interval '1 second'""")
    return total - held_now
