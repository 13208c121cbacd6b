"""The cluster's tables on the shared PostgreSQL store: members, host-bucket leases and outbox-channel leases.

Several daemons share one fleet by leasing host buckets (``monitor.daemon.cluster``). Each heartbeat is one
transaction: the member row's ``heartbeat_at`` is renewed, buckets the daemon gives back are released, the ones
it holds are renewed for ``ttl``, and free or expired ones are claimed up to its fair share (``FOR UPDATE SKIP
LOCKED``: two daemons claiming at once never take the same bucket). PostgreSQL's own clock (``now()``) decides
what has expired, so the daemons' clocks need not agree. ``held`` runs inside every write transaction of a
daemon: it returns the buckets the daemon still holds and locks them (``FOR SHARE``) until the write commits, so
no other daemon can claim one while results of it are being written.

An outbox channel (one receiver, or MQTT) is delivered by one daemon at a time: ``claim_channel`` takes or
renews its lease, the sender gives it back when the channel has nothing due.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

TABLES = """
    CREATE TABLE cluster_members (
        node text PRIMARY KEY, board text NOT NULL, pid integer NOT NULL, started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL, ttl_s double precision NOT NULL, state text NOT NULL
    );
    CREATE TABLE cluster_buckets (
        bucket integer PRIMARY KEY, owner text, expires_at timestamptz NOT NULL DEFAULT '-infinity',
        taken_at timestamptz
    );
    CREATE INDEX cluster_buckets_owner ON cluster_buckets (owner);
    CREATE TABLE outbox_channels (channel text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL)
"""


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
    ttl = float(ttl_s)
    await db.execute("INSERT INTO cluster_buckets (bucket) SELECT generate_series(0, $1 - 1) ON CONFLICT DO NOTHING",
                     total)
    await db.execute(
        """INSERT INTO cluster_members (node, board, pid, started_at, heartbeat_at, ttl_s, state)
           VALUES ($1, $2, $3, $4, now(), $5, $6)
           ON CONFLICT (node) DO UPDATE SET board = excluded.board, pid = excluded.pid,
             started_at = excluded.started_at, heartbeat_at = now(), ttl_s = excluded.ttl_s, state = excluded.state""",
        node, board, pid, started_at, ttl_s, state)
    if release:
        await db.execute("UPDATE cluster_buckets SET owner = NULL, expires_at = '-infinity', taken_at = NULL"
                         " WHERE owner = $1 AND bucket = ANY($2::integer[])", node, list(release))
    held = {r[0] for r in await db.fetch(
        "UPDATE cluster_buckets SET expires_at = now() + make_interval(secs => $2) WHERE owner = $1 AND bucket < $3"
        " RETURNING bucket", node, ttl, total)}
    members = await db.fetchval("SELECT count(*) FROM cluster_members WHERE heartbeat_at > now() - ttl_s * interval"
                                " '1 second'")
    share = math.ceil(total / max(members, 1))
    if claim and len(held) < share:
        held |= {r[0] for r in await db.fetch(
            """UPDATE cluster_buckets SET owner = $1, expires_at = now() + make_interval(secs => $2), taken_at = now()
               WHERE bucket IN (SELECT bucket FROM cluster_buckets WHERE bucket < $4
                                  AND (owner IS NULL OR expires_at <= now())
                                ORDER BY bucket LIMIT $3 FOR UPDATE SKIP LOCKED)
               RETURNING bucket""", node, ttl, share - len(held), total)}
    return Beat(frozenset(held), share, members)


async def leave(db: asyncpg.Connection, node: str) -> None:
    """A daemon stopping cleanly: its buckets and channels are free at once, its member row goes."""
    await db.execute("UPDATE cluster_buckets SET owner = NULL, expires_at = '-infinity', taken_at = NULL"
                     " WHERE owner = $1", node)
    await db.execute("DELETE FROM outbox_channels WHERE owner = $1", node)
    await db.execute("DELETE FROM cluster_members WHERE node = $1", node)


async def held(db: asyncpg.Connection, node: str) -> set[int]:
    """The buckets ``node`` holds now, locked against other daemons' claims until the transaction ends."""
    rows = await db.fetch("SELECT bucket FROM cluster_buckets WHERE owner = $1 AND expires_at > now() FOR SHARE",
                          node)
    return {r[0] for r in rows}


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
    """Every daemon known to the cluster, with its buckets (``govwatch cluster status``)."""
    rows = await db.fetch(
        """SELECT m.node, m.board, m.pid, m.started_at, m.heartbeat_at,
                  m.heartbeat_at > now() - m.ttl_s * interval '1 second', m.state,
                  coalesce(array_agg(b.bucket ORDER BY b.bucket) FILTER (WHERE b.bucket IS NOT NULL), '{}')
           FROM cluster_members AS m
           LEFT JOIN cluster_buckets AS b ON b.owner = m.node AND b.expires_at > now()
           GROUP BY m.node ORDER BY m.node""")
    return [Member(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(r[7])) for r in rows]


async def unheld(db: asyncpg.Connection) -> int:
    """Buckets no live daemon holds now."""
    return await db.fetchval("SELECT count(*) FROM cluster_buckets WHERE owner IS NULL OR expires_at <= now()")
