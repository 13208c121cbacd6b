"""PostgreSQL store (asyncpg): the same ``Store`` protocol as SQLite, for several daemons sharing one database.

The tables follow the SQLite store's (migration 5 there): a probe is a small row (subject number, time, fetch ms,
result number), a run of identical results shares one result row, verdict texts are stored once. Times are
``timestamptz``, dates ``date``; long values that SQLite indexes freely (item URLs, verdict texts) are indexed by
their md5 here, as a B-tree entry holds at most ~2.7 kB.

Every write is one transaction through ``_transaction``: committed whole, or rolled back and the real cause
raised (never an error of the rollback itself); a connection that broke is thrown away, so the next write opens a
new one when the database is back. A batch goes in a few statements whatever its size (arrays through ``unnest``),
not one round trip per record. ``guard`` — given by the cluster — runs first inside each write transaction and
keeps only the records this daemon may still write (those of the host buckets it holds), holding the lock that
stops another daemon from taking those buckets until the transaction ends. Each ``current`` row keeps when it was last
written (``written_at``, the transaction's time) and by which transaction (``written_xid``): a daemon showing the whole
fleet reads what others changed by the latter (``fleet_changes``), as a transaction may commit long after its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from monitor.evaluate import History, Verdict
from monitor.findings import Change, Finding, Known, Status, mark
from monitor.model import EmptyReason, FetchError, Observation, State, Target
from monitor.records import (
    CheckRunRecord,
    FindingEvent,
    FindingsRecord,
    HealthProbeRecord,
    HeldRow,
    OutboxItem,
    OutboxRecord,
    OutboxRow,
    ProbeRecord,
    Record,
    Release,
    Silence,
    TargetInfo,
    TargetState,
    VerdictRecord,
    VerdictRow,
)
from monitor.store import StoreUnavailable, leases
from monitor.store.location import masked

MIGRATIONS: tuple[str, ...] = (
    # 1: the SQLite store's tables as of its migration 5
    """
    CREATE TABLE targets (
        id text PRIMARY KEY, kind text NOT NULL, name text NOT NULL, url text NOT NULL, site_id text NOT NULL,
        site_name text NOT NULL, unit_id text NOT NULL, unit_name text NOT NULL, category text NOT NULL,
        active boolean NOT NULL DEFAULT true, updated_at timestamptz NOT NULL
    );
    CREATE TABLE subjects (key serial PRIMARY KEY, name text NOT NULL UNIQUE);
    CREATE TABLE results (
        id bigserial PRIMARY KEY, http_status integer, error text, detail text, not_modified boolean NOT NULL,
        newest_date date, reason text, signature text, content_hash text, item_count integer NOT NULL,
        final_url text
    );
    CREATE INDEX results_without_items ON results (http_status, error, md5(detail)) WHERE item_count = 0;
    CREATE TABLE probes (
        subject integer NOT NULL, at timestamptz NOT NULL, ms integer NOT NULL, result bigint NOT NULL,
        PRIMARY KEY (subject, at)
    );
    CREATE TABLE health_probes (
        subject integer NOT NULL, at timestamptz NOT NULL, ok boolean NOT NULL, status integer, error text,
        ms integer, PRIMARY KEY (subject, at)
    );
    CREATE TABLE items (
        subject integer NOT NULL, url text NOT NULL, title text NOT NULL, date date, first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL, prev_date date, date_changed_at timestamptz
    );
    CREATE UNIQUE INDEX items_subject_url ON items (subject, md5(url));
    CREATE INDEX items_subject_last_seen ON items (subject, last_seen);
    CREATE TABLE texts (id serial PRIMARY KEY, text text NOT NULL);
    CREATE UNIQUE INDEX texts_text ON texts (md5(text));
    CREATE TABLE verdicts (
        id bigserial PRIMARY KEY, subject integer NOT NULL, at timestamptz NOT NULL, state text NOT NULL,
        reasons integer NOT NULL, newest_date date, deadline timestamptz, detail integer NOT NULL
    );
    CREATE INDEX verdicts_subject_at ON verdicts (subject, at);
    CREATE INDEX verdicts_at ON verdicts (at);
    CREATE TABLE current (
        target_id text PRIMARY KEY, state text NOT NULL, reasons text NOT NULL, newest_date date,
        yellow_at timestamptz, deadline timestamptz, next_change timestamptz, detail text NOT NULL,
        since timestamptz NOT NULL, last_result bigint, last_good_result bigint, newest_first_seen timestamptz,
        etag text, last_modified text, written_at timestamptz NOT NULL
    );
    CREATE TABLE outbox (
        id bigserial PRIMARY KEY, key text NOT NULL UNIQUE, channel text NOT NULL, created_at timestamptz NOT NULL,
        not_before timestamptz NOT NULL, payload text NOT NULL, status text NOT NULL, reason text, target_id text,
        attempts integer NOT NULL DEFAULT 0, last_error text, next_attempt_at timestamptz, sent_at timestamptz
    );
    CREATE INDEX outbox_channel_pending ON outbox (channel, id) WHERE status = 'pending';
    CREATE INDEX outbox_target ON outbox (target_id, id);
    CREATE TABLE silences (
        id bigserial PRIMARY KEY, scope text NOT NULL, scope_id text NOT NULL, ends_at timestamptz NOT NULL,
        reason text NOT NULL, created_by text NOT NULL, created_at timestamptz NOT NULL, removed_at timestamptz
    );
    CREATE TABLE findings (
        uid text PRIMARY KEY, check_name text NOT NULL, subject text NOT NULL, key text NOT NULL,
        unit_id text NOT NULL, site_id text NOT NULL, severity text NOT NULL, status text NOT NULL,
        title text NOT NULL, detail text NOT NULL, url text, evidence text NOT NULL,
        first_seen timestamptz NOT NULL, changed_at timestamptz NOT NULL
    );
    CREATE INDEX findings_subject ON findings (check_name, subject);
    CREATE INDEX findings_status ON findings (status, unit_id);
    CREATE TABLE finding_events (
        id bigserial PRIMARY KEY, uid text NOT NULL, at timestamptz NOT NULL, event text NOT NULL,
        severity text NOT NULL, actor text NOT NULL, note text NOT NULL
    );
    CREATE INDEX finding_events_uid ON finding_events (uid, id);
    CREATE INDEX finding_events_at ON finding_events (at);
    CREATE TABLE messages (
        box_id text NOT NULL, seq integer NOT NULL, title text NOT NULL, url text, asked date NOT NULL,
        answered date, status text NOT NULL, status_text text NOT NULL, read_at timestamptz NOT NULL,
        PRIMARY KEY (box_id, seq)
    );
    CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)
    """,
    # 2: held alerts and silences that discard what they held (SQLite's migration 7)
    """
    ALTER TABLE silences ADD COLUMN discard boolean NOT NULL DEFAULT false;
    CREATE INDEX outbox_held ON outbox (id) WHERE status = 'held'
    """,
    # 3: several daemons on this store: members, host-bucket and outbox-channel leases in tables of its own
    """
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
    """,
    # 4: the host buckets held as pgqueuer jobs (monitor.store.leases); leases are transient, nothing is carried over
    "DROP TABLE cluster_buckets; DROP TABLE cluster_members; DROP TABLE outbox_channels;\n" + leases.TABLES,
    # 5: the transaction that last wrote each ``current`` row, what the fleet read-back goes by (``fleet_changes``)
    """
    ALTER TABLE current ADD COLUMN written_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
    CREATE INDEX current_written_xid ON current (written_xid)
    """,
    # 6: when each check last ran on each subject (SQLite's migration 8): whichever daemon runs it next does so one
    # interval after that
    """
    CREATE TABLE check_runs (
        subject text NOT NULL, check_name text NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (subject, check_name)
    )
    """,
    # 7: each target's probe as a daemon of the cluster is about to make it (monitor.store.leases.intend)
    "CREATE TABLE probe_intents (target_id text PRIMARY KEY, at timestamptz NOT NULL)",
)

_RESULT_COLUMNS = ("http_status, error, detail, not_modified, newest_date, reason, signature, content_hash, item_count,"
                   " final_url")
_GOOD = "r.error IS NULL AND (r.newest_date IS NOT NULL OR r.not_modified)"
_FINDING_COLUMNS = ("check_name, subject, key, severity, title, unit_id, site_id, url, detail, evidence, status,"
                    " first_seen, changed_at")
COMPACT_SUBJECTS = 50  # subjects per compaction transaction
COMPACT_SPAN_S = 7 * 86400  # and at most a week of their probes
_RUN_IDENTITY = {"probes": ("result",), "health_probes": ("ok", "status", "error")}
# Errors after which the connection is not given back to the pool but closed: the next use opens a new one.
_BROKEN = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError, TimeoutError)
# The newest retained MQTT message sent to each topic (as SQLite's)
_NEWEST_RETAINED = ("SELECT MAX(id) FROM outbox WHERE channel = 'mqtt' AND status = 'sent'"
                    " AND (payload::jsonb ->> 'retain')::boolean GROUP BY payload::jsonb ->> 'topic'")
_MIGRATION_LOCK = 7_245_871_003  # advisory lock: one daemon migrates, the others wait for it

# (connection, records) → the records this daemon may still write, checked inside the write transaction
Guard = Callable[[asyncpg.Connection, Sequence[Record]], Awaitable[Sequence[Record]]]


@dataclass(frozen=True, slots=True)
class _Current:
    """One target's ``current`` row as a write leaves it (None: keep the stored value)."""

    target_id: str
    verdict: Verdict
    at: datetime
    changed: bool
    result: int | None
    good: bool
    probe: bool
    first_seen: datetime | None
    etag: str | None
    last_modified: str | None


class PostgresStore:
    def __init__(self, dsn: str, guard: Guard | None = None, max_connections: int = 4) -> None:
        self.dsn = dsn
        self.guard = guard
        self.max_connections = max_connections
        self._pool: asyncpg.Pool | None = None
        # What this process last wrote, to spare the hot path round trips (forgotten when a transaction fails):
        # subjects' and texts' numbers, each target's last two distinct results, the results without items.
        self._keys: dict[str, int] = {}
        self._texts: dict[str, int] = {}
        self._results: dict[str, tuple[tuple[tuple[Any, ...], int], ...]] = {}
        self._shared: dict[tuple[Any, ...], int] = {}

    def __repr__(self) -> str:
        return f"PostgresStore({masked(self.dsn)})"

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.max_connections,
                                                   command_timeout=60)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailable(f"无法连接 PostgreSQL 数据库 {masked(self.dsn)}：{exc}",
                                   f"cannot connect to the PostgreSQL store {masked(self.dsn)}: "
                                   f"{type(exc).__name__}: {exc}") from exc
        async with self._transaction() as db:
            await db.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            version = await db.fetchval("SELECT max(version) FROM schema_version") or 0
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                await db.execute(script)
                await db.execute("INSERT INTO schema_version (version) VALUES ($1)", number)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def forget(self) -> None:
        """Drop what this process remembers of what it wrote (another daemon may have written since)."""
        self._keys, self._texts, self._results, self._shared = {}, {}, {}, {}

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a transaction: committed whole, or rolled back and the real cause raised. A connection
        that broke (the server went away, a network error) is closed instead of going back to the pool."""
        conn = await self.pool.acquire()
        broken = False
        try:
            tx = conn.transaction()
            await tx.start()
            try:
                yield conn
            except BaseException:
                self.forget()
                with contextlib.suppress(Exception):
                    await tx.rollback()
                raise
            try:
                await tx.commit()
            except BaseException:
                self.forget()
                raise
        except _BROKEN:
            broken = True
            raise
        finally:
            await self._give_back(conn, broken)

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for reads (one snapshot per statement)."""
        conn = await self.pool.acquire()
        broken = False
        try:
            yield conn
        except _BROKEN:
            broken = True
            raise
        finally:
            await self._give_back(conn, broken)

    async def _give_back(self, conn: asyncpg.Connection, broken: bool) -> None:
        """Back to the pool; closed first when it broke (the pool may already have taken it back itself)."""
        with contextlib.suppress(Exception):
            if broken or conn.is_closed():
                conn.terminate()
        with contextlib.suppress(Exception):
            await self.pool.release(conn)

    async def run(self, work: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        """Run ``work(connection)`` in one transaction (the cluster's own tables use this too)."""
        async with self._transaction() as db:
            return await work(db)

    # ------------------------------------------------------------------ targets and the daemon's writes

    async def sync_targets(self, targets: Sequence[Target], now: datetime) -> None:
        """Upsert the inventory's targets; targets no longer listed are marked inactive, not deleted."""
        columns = list(zip(*[(t.id, str(t.kind), t.name, t.url, t.site_id, t.site_name, t.unit_id, t.unit_name,
                              t.rule.category) for t in targets], strict=True)) or [[]] * 9
        async with self._transaction() as db:
            await db.execute("UPDATE targets SET active = false WHERE active AND NOT id = ANY($1::text[])",
                             list(columns[0]))
            await db.execute(
                """INSERT INTO targets (id, kind, name, url, site_id, site_name, unit_id, unit_name, category, active,
                                        updated_at)
                   SELECT *, true, $10 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                                   $6::text[], $7::text[], $8::text[], $9::text[])
                   ON CONFLICT (id) DO UPDATE SET kind=excluded.kind, name=excluded.name, url=excluded.url,
                     site_id=excluded.site_id, site_name=excluded.site_name, unit_id=excluded.unit_id,
                     unit_name=excluded.unit_name, category=excluded.category, active=true,
                     updated_at=excluded.updated_at
                   WHERE (targets.kind, targets.name, targets.url, targets.site_id, targets.site_name,
                          targets.unit_id, targets.unit_name, targets.category, targets.active)
                     IS DISTINCT FROM (excluded.kind, excluded.name, excluded.url, excluded.site_id,
                          excluded.site_name, excluded.unit_id, excluded.unit_name, excluded.category, true)""",
                *[list(c) for c in columns], now)

    async def write(self, records: Sequence[Record]) -> None:
        if not records:
            return
        async with self._transaction() as db:
            if self.guard is not None:
                records = await self.guard(db, records)
            await self._write(db, records)

    async def _write(self, db: asyncpg.Connection, records: Sequence[Record]) -> None:
        names = {r.subject if isinstance(r, HealthProbeRecord) else r.observation.target_id
                 for r in records if isinstance(r, HealthProbeRecord | ProbeRecord)}
        names |= {r.target_id for r in records if isinstance(r, VerdictRecord)}
        keys = await self._numbers(db, "subjects", "key", "name", names, self._keys)
        await self._outbox(db, [i for r in records if not isinstance(r, HealthProbeRecord | CheckRunRecord)
                                for i in (r.items if isinstance(r, OutboxRecord) else r.outbox)])
        changes = [c for r in records if isinstance(r, FindingsRecord) for c in r.changes]
        if changes:
            await self._findings(db, changes)
        observed = [r for r in records if isinstance(r, ProbeRecord)]
        results = await self._result_ids(db, [r.observation for r in observed])
        probes: dict[tuple[int, datetime], tuple[int, datetime, int, int]] = {}
        items: dict[tuple[int, str], tuple[int, str, str, date | None, datetime, datetime]] = {}
        currents: list[_Current] = []
        for record in records:
            if isinstance(record, VerdictRecord):
                currents.append(_Current(record.target_id, record.verdict, record.at, True, None, False, False, None,
                                         None, None))
            elif isinstance(record, ProbeRecord):
                obs = record.observation
                key, result = keys[obs.target_id], results[id(obs)]
                probes[(key, obs.at)] = (key, obs.at, round(obs.fetch_ms), result)
                if obs.items and record.items_changed:
                    for item in obs.items:  # seen twice in one batch: first seen at the first sighting
                        first = items[(key, item.url)][4] if (key, item.url) in items else obs.at
                        items[(key, item.url)] = (key, item.url, item.title, item.date, first, obs.at)
                currents.append(_Current(obs.target_id, record.verdict, obs.at, record.changed, result,
                                         obs.newest_date is not None, True, record.first_seen, record.etag,
                                         record.last_modified))
        if items:
            await db.execute(
                """INSERT INTO items (subject, url, title, date, first_seen, last_seen)
                   SELECT * FROM unnest($1::integer[], $2::text[], $3::text[], $4::date[], $5::timestamptz[],
                                        $6::timestamptz[])
                   ON CONFLICT (subject, md5(url)) DO UPDATE SET title=excluded.title, date=excluded.date,
                     last_seen=excluded.last_seen,
                     prev_date=CASE WHEN excluded.date <> items.date THEN items.date ELSE items.prev_date END,
                     date_changed_at=CASE WHEN excluded.date <> items.date THEN excluded.last_seen
                                          ELSE items.date_changed_at END""",
                *map(list, zip(*items.values(), strict=True)))
        await self._verdicts(db, [c for c in currents if c.changed], keys)
        await self._currents(db, currents)
        if probes:
            # Two probes of one subject at the same instant (a stopped test clock) keep the later one.
            await db.execute(
                """INSERT INTO probes (subject, at, ms, result)
                   SELECT * FROM unnest($1::integer[], $2::timestamptz[], $3::integer[], $4::bigint[])
                   ON CONFLICT (subject, at) DO UPDATE SET ms = excluded.ms, result = excluded.result""",
                *map(list, zip(*probes.values(), strict=True)))
        health = {(keys[r.subject], r.at): (keys[r.subject], r.at, r.ok, r.status, r.error,
                                            None if r.ms is None else round(r.ms))
                  for r in records if isinstance(r, HealthProbeRecord)}
        if health:
            await db.execute(
                """INSERT INTO health_probes (subject, at, ok, status, error, ms)
                   SELECT * FROM unnest($1::integer[], $2::timestamptz[], $3::boolean[], $4::integer[], $5::text[],
                                        $6::integer[])
                   ON CONFLICT (subject, at) DO UPDATE SET ok = excluded.ok, status = excluded.status,
                     error = excluded.error, ms = excluded.ms""",
                *map(list, zip(*health.values(), strict=True)))
        runs = {(r.subject, r.check): r.at for r in records if isinstance(r, CheckRunRecord)}
        if runs:
            await db.execute(
                """INSERT INTO check_runs (subject, check_name, at)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                   ON CONFLICT (subject, check_name) DO UPDATE SET at = excluded.at
                   WHERE excluded.at > check_runs.at""",
                [s for s, _ in runs], [c for _, c in runs], list(runs.values()))

    async def _numbers(self, db: asyncpg.Connection, table: str, number: str, column: str, values: set[str],
                       known: dict[str, int]) -> dict[str, int]:
        """The numbers standing for these values (subject names, texts), inserting the new ones; sorted, so that
        two daemons inserting the same new values never wait for each other in opposite orders."""
        missing = sorted(v for v in values if v not in known)
        if missing:
            conflict = "(name)" if table == "subjects" else "(md5(text))"
            rows = await db.fetch(
                f"INSERT INTO {table} ({column}) SELECT unnest($1::text[]) ON CONFLICT {conflict}"
                f" DO UPDATE SET {column} = excluded.{column} RETURNING {number}, {column}", missing)
            known.update({value: n for n, value in rows})
        return {v: known[v] for v in values}

    async def _result_ids(self, db: asyncpg.Connection, observations: Sequence[Observation]) -> dict[int, int]:
        """The result row of each observation (by ``id(obs)``): a target's last two distinct results and the
        results without items (a 304, a failure) are shared, as in the SQLite store; the others are new rows."""
        unknown = sorted({o.target_id for o in observations if o.target_id not in self._results})
        if unknown:
            columns = "r." + _RESULT_COLUMNS.replace(", ", ", r.")
            rows = await db.fetch(f"SELECT c.target_id, r.id, {columns} FROM current AS c"
                                  " JOIN results AS r ON r.id = c.last_result WHERE c.target_id = ANY($1::text[])",
                                  unknown)
            for row in rows:
                self._results[row[0]] = ((tuple(row[2:]), row[1]),)
        out: dict[int, int] = {}
        fresh: dict[tuple[str, tuple[Any, ...]], list[Observation]] = {}  # new rows, one per (target, content)
        for obs in observations:
            content = _content(obs)
            recent = self._results.get(obs.target_id, ())
            found = next((rid for known, rid in recent if known == content), None)
            if found is None and not obs.items:
                found = self._shared.get(content)
                if found is None and ("", content) not in fresh:
                    found = await db.fetchval(
                        f"SELECT id FROM results WHERE item_count = 0 AND ({_RESULT_COLUMNS}) IS NOT DISTINCT FROM"
                        " ($1::integer, $2::text, $3::text, $4::boolean, $5::date, $6::text, $7::text, $8::text,"
                        " $9::integer, $10::text) LIMIT 1", *content)
                    if found is not None:
                        self._shared[content] = found
            if found is None:
                fresh.setdefault(("" if not obs.items else obs.target_id, content), []).append(obs)
                continue
            out[id(obs)] = found
        if fresh:
            ids = [row[0] for row in await db.fetch(
                "SELECT nextval(pg_get_serial_sequence('results', 'id')) FROM generate_series(1, $1)", len(fresh))]
            await db.execute(
                f"INSERT INTO results (id, {_RESULT_COLUMNS}) SELECT * FROM unnest($1::bigint[], $2::integer[],"
                " $3::text[], $4::text[], $5::boolean[], $6::date[], $7::text[], $8::text[], $9::text[],"
                " $10::integer[], $11::text[])", ids, *map(list, zip(*(content for _, content in fresh), strict=True)))
            for rid, ((_, content), seen) in zip(ids, fresh.items(), strict=True):
                if not content[-2]:
                    self._shared[content] = rid
                for obs in seen:
                    out[id(obs)] = rid
        for obs in observations:  # each target's last two distinct results, in the order they were read
            content, rid = _content(obs), out[id(obs)]
            recent = self._results.get(obs.target_id, ())
            self._results[obs.target_id] = ((content, rid), *(r for r in recent if r[0] != content))[:2]
        return out

    async def _verdicts(self, db: asyncpg.Connection, changed: Sequence[_Current], keys: dict[str, int]) -> None:
        if not changed:
            return
        texts = await self._numbers(db, "texts", "id", "text",
                                    {t for c in changed for t in (json.dumps(c.verdict.reasons), c.verdict.detail)},
                                    self._texts)
        rows = [(keys[c.target_id], c.at, str(c.verdict.state), texts[json.dumps(c.verdict.reasons)],
                 c.verdict.newest_date, c.verdict.deadline, texts[c.verdict.detail]) for c in changed]
        await db.execute(
            """INSERT INTO verdicts (subject, at, state, reasons, newest_date, deadline, detail)
               SELECT s, a, st, r, n, d, t FROM unnest($1::integer[], $2::timestamptz[], $3::text[], $4::integer[],
                   $5::date[], $6::timestamptz[], $7::integer[]) WITH ORDINALITY AS x(s, a, st, r, n, d, t, o)
               ORDER BY o""",
            *map(list, zip(*rows, strict=True)))

    async def _currents(self, db: asyncpg.Connection, currents: Sequence[_Current]) -> None:
        """Each target's ``current`` row, in rounds when a batch holds several writes of one target (one statement
        may touch a row once). ``written_xid`` is the transaction's id: what other daemons read changes by."""
        rounds: list[list[_Current]] = []
        seen: dict[str, int] = {}
        for current in currents:
            n = seen[current.target_id] = seen.get(current.target_id, -1) + 1
            if n == len(rounds):
                rounds.append([])
            rounds[n].append(current)
        rows = """unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::timestamptz[], $6::timestamptz[],
                          $7::timestamptz[], $8::text[], $9::timestamptz[], $10::bigint[], $11::boolean[],
                          $12::boolean[], $13::timestamptz[], $14::text[], $15::text[], $16::boolean[])
                   AS x(id, state, reasons, newest, yellow, deadline, nxt, detail, at, result, good, probe,
                        first_seen, etag, lm, changed)"""
        for batch in rounds:
            values = [(c.target_id, str(c.verdict.state), json.dumps(c.verdict.reasons), c.verdict.newest_date,
                       c.verdict.yellow_at, c.verdict.deadline, c.verdict.next_change, c.verdict.detail, c.at,
                       c.result, c.good, c.probe, c.first_seen, c.etag, c.last_modified, c.changed) for c in batch]
            columns = [list(column) for column in zip(*values, strict=True)]
            await db.execute(
                f"""UPDATE current AS c SET state = x.state, reasons = x.reasons, newest_date = x.newest,
                      yellow_at = x.yellow, deadline = x.deadline, next_change = x.nxt, detail = x.detail,
                      since = CASE WHEN x.changed THEN x.at ELSE c.since END,
                      last_result = COALESCE(x.result, c.last_result),
                      last_good_result = CASE WHEN x.good THEN x.result ELSE c.last_good_result END,
                      newest_first_seen = COALESCE(x.first_seen, c.newest_first_seen),
                      etag = CASE WHEN x.probe THEN x.etag ELSE c.etag END,
                      last_modified = CASE WHEN x.probe THEN x.lm ELSE c.last_modified END,
                      written_at = now(), written_xid = pg_current_xact_id()
                    FROM {rows} WHERE c.target_id = x.id""", *columns)
            await db.execute(
                f"""INSERT INTO current (target_id, state, reasons, newest_date, yellow_at, deadline, next_change,
                        detail, since, last_result, last_good_result, newest_first_seen, etag, last_modified,
                        written_at, written_xid)
                    SELECT id, state, reasons, newest, yellow, deadline, nxt, detail, at, result,
                           CASE WHEN good THEN result END, first_seen, etag, lm, now(), pg_current_xact_id()
                    FROM {rows} WHERE NOT EXISTS (SELECT FROM current WHERE target_id = x.id)
                    ON CONFLICT (target_id) DO NOTHING""", *columns)

    async def _outbox(self, db: asyncpg.Connection, items: Sequence[OutboxItem]) -> None:
        if not items:
            return
        rows = [(i.key, i.channel, i.created_at, i.not_before, json.dumps(i.payload, ensure_ascii=False),
                 i.status, i.suppressed, i.target_id) for i in items]
        await db.execute(
            """INSERT INTO outbox (key, channel, created_at, not_before, payload, status, reason, target_id)
               SELECT k, c, ca, nb, p, s, r, t FROM unnest($1::text[], $2::text[], $3::timestamptz[],
                   $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY
                   AS x(k, c, ca, nb, p, s, r, t, n)
               ORDER BY n ON CONFLICT (key) DO NOTHING""",
            *map(list, zip(*rows, strict=True)))

    async def _findings(self, db: asyncpg.Connection, changes: Sequence[Change]) -> None:
        rows: dict[str, tuple[Any, ...]] = {}
        events = []
        for change in changes:
            known, f = change.known, change.known.finding
            rows[f.uid] = (f.uid, f.check, f.subject, f.key, f.unit_id, f.site_id, str(f.severity),
                           str(known.status), f.title, f.detail, f.url,
                           json.dumps(dict(f.evidence), ensure_ascii=False, default=str), known.first_seen,
                           known.changed_at)
            events.append((f.uid, known.changed_at, str(change.event), str(f.severity), change.actor, change.note))
        await db.executemany(
            """INSERT INTO findings (uid, check_name, subject, key, unit_id, site_id, severity, status, title, detail,
                                     url, evidence, first_seen, changed_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               ON CONFLICT (uid) DO UPDATE SET unit_id=excluded.unit_id, site_id=excluded.site_id,
                 severity=excluded.severity, status=excluded.status, title=excluded.title, detail=excluded.detail,
                 url=excluded.url, evidence=excluded.evidence, changed_at=excluded.changed_at""", list(rows.values()))
        await db.execute(
            """INSERT INTO finding_events (uid, at, event, severity, actor, note)
               SELECT u, a, e, s, ac, n FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
                                                    $6::text[]) WITH ORDINALITY AS x(u, a, e, s, ac, n, o)
               ORDER BY o""", *map(list, zip(*events, strict=True)))

    # ------------------------------------------------------------------ what the daemon resumes from

    async def load_states(self, target_ids: Sequence[str] | None = None) -> dict[str, TargetState]:
        """Each target's (or only these targets') resumable state: its last and last good observation and
        current verdict."""
        query = f"""
            SELECT c.target_id, c.state, c.reasons, c.newest_date, c.yellow_at, c.deadline, c.next_change, c.detail,
                   c.newest_first_seen, c.etag, c.last_modified,
                   lp.at, lp.ms, lr.{_RESULT_COLUMNS.replace(', ', ', lr.')},
                   gp.at, gp.ms, gr.{_RESULT_COLUMNS.replace(', ', ', gr.')}
            FROM current AS c LEFT JOIN subjects AS s ON s.name = c.target_id
            LEFT JOIN LATERAL (SELECT at, ms FROM probes WHERE subject = s.key AND result = c.last_result
                               ORDER BY at DESC LIMIT 1) AS lp ON true
            LEFT JOIN results AS lr ON lr.id = c.last_result
            LEFT JOIN LATERAL (SELECT at, ms FROM probes WHERE subject = s.key AND result = c.last_good_result
                                 AND c.last_good_result IS DISTINCT FROM c.last_result
                               ORDER BY at DESC LIMIT 1) AS gp ON true
            LEFT JOIN results AS gr ON gr.id = c.last_good_result
            {"" if target_ids is None else "WHERE c.target_id = ANY($1::text[])"}"""
        async with self._reading() as db:
            rows = await db.fetch(query) if target_ids is None else await db.fetch(query, list(target_ids))
        states = {}
        for row in rows:
            tid = row[0]
            latest = _observation(tid, row[11:23]) if row[11] is not None else None
            last_good = _observation(tid, row[23:35]) if row[23] is not None else None
            verdict = Verdict(State(row[1]), tuple(json.loads(row[2])), row[3], row[4], row[5], row[6], row[7])
            content = latest.content_hash if latest else None
            states[tid] = TargetState(History(latest, last_good, row[8]), verdict, row[9], row[10], content)
        return states

    async def verdict_history(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]:
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT v.at, v.state, r.text, v.newest_date, v.deadline, d.text FROM verdicts AS v"
                " JOIN texts AS r ON r.id = v.reasons JOIN texts AS d ON d.id = v.detail"
                " WHERE v.subject = (SELECT key FROM subjects WHERE name = $1) ORDER BY v.at DESC, v.id DESC"
                " LIMIT $2", target_id, limit)
        return [{"at": at, "state": state, "reasons": json.loads(reasons), "newest_date": _iso(newest),
                 "deadline": deadline, "detail": detail} for at, state, reasons, newest, deadline, detail in rows]

    async def observations(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]:
        async with self._reading() as db:
            rows = await db.fetch(
                f"SELECT p.at, p.ms, {_RESULT_COLUMNS} FROM probes AS p JOIN results AS r ON r.id = p.result"
                " WHERE p.subject = (SELECT key FROM subjects WHERE name = $1) ORDER BY p.at DESC LIMIT $2",
                target_id, limit)
        return [{"at": o.at, "http_status": o.http_status, "error": o.error, "detail": o.detail,
                 "not_modified": o.not_modified, "newest_date": _iso(o.newest_date), "reason": o.reason,
                 "fetch_ms": o.fetch_ms, "item_count": row[-2], "final_url": o.final_url}
                for row in rows for o in (_observation(target_id, row),)]

    async def fleet_changes(self, horizon: int) -> tuple[int, list[tuple[str, Verdict]]]:
        """The ``current`` rows last written by a transaction numbered ``horizon`` or above (target id, verdict), and
        the horizon to ask from next time: the oldest transaction still running when they were read (all below it
        had ended: committed and read here, or rolled back). So a write is read at the first call after it commits,
        however long after its start; rows of a transaction running across calls (and of the ones after it) are
        read again until it ends. One statement: the rows and the horizon come from one snapshot."""
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT h.xmin, c.target_id, c.state, c.reasons, c.newest_date, c.yellow_at, c.deadline, c.next_change,"
                " c.detail FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin) AS h"
                " LEFT JOIN current AS c ON c.written_xid >= $1::text::xid8", str(horizon))
        return int(rows[0][0]), [(r[1], Verdict(State(r[2]), tuple(json.loads(r[3])), r[4], r[5], r[6], r[7], r[8]))
                                 for r in rows if r[1] is not None]

    # ------------------------------------------------------------------ findings

    async def load_findings(self) -> list[Known]:
        """Every finding ever recorded, with its status (gone and fixed ones too: seen again, they reappear)."""
        async with self._reading() as db:
            return [_known(row) for row in await db.fetch(f"SELECT {_FINDING_COLUMNS} FROM findings")]

    async def findings_list(self, status: str | None = "open", check: str | None = None, unit_id: str | None = None,
                            site_id: str | None = None, subject: str | None = None,
                            limit: int = 500) -> list[dict[str, Any]]:
        """Findings as dicts for the board and the API, worst and newest first."""
        filters = [(column, value) for column, value in (
            ("status", status), ("check_name", check), ("unit_id", unit_id), ("site_id", site_id),
            ("subject", subject)) if value is not None]
        where = " AND ".join(f"{column} = ${n}" for n, (column, _) in enumerate(filters, start=1))
        async with self._reading() as db:
            rows = await db.fetch(
                f"SELECT {_FINDING_COLUMNS} FROM findings {'WHERE ' + where if where else ''}"
                f" ORDER BY severity = 'red' DESC, changed_at DESC LIMIT ${len(filters) + 1}",
                *(v for _, v in filters), limit)
        return [_finding_dict(_known(row)) for row in rows]

    async def finding(self, uid: str) -> dict[str, Any] | None:
        """One finding with its trail (found, notified, marked, gone), oldest event first."""
        async with self._reading() as db:
            row = await db.fetchrow(f"SELECT {_FINDING_COLUMNS} FROM findings WHERE uid = $1", uid)
            if row is None:
                return None
            trail = await db.fetch("SELECT at, event, severity, actor, note FROM finding_events WHERE uid = $1"
                                   " ORDER BY id", uid)
            notified = await db.fetch("SELECT channel, status, created_at, sent_at, reason FROM outbox"
                                      " WHERE key LIKE $1 ORDER BY id", f"finding|{uid}|%")
        return {**_finding_dict(_known(row)),
                "trail": [{"at": at, "event": ev, "severity": sev, "actor": actor, "note": note}
                          for at, ev, sev, actor, note in trail],
                "notifications": [{"channel": c, "status": st, "created_at": ca, "sent_at": sa, "reason": r}
                                  for c, st, ca, sa, r in notified]}

    async def finding_mark(self, uid: str, status: Status, actor: str, note: str, now: datetime) -> Change | None:
        """An operator's mark written straight to the store (the CLI); the daemons take it in within 30 s."""
        async with self._transaction() as db:
            row = await db.fetchrow(f"SELECT {_FINDING_COLUMNS} FROM findings WHERE uid = $1 FOR UPDATE", uid)
            if row is None:
                return None
            change = mark(_known(row), status, now, actor, note)
            await self._findings(db, [change])
            return change

    async def finding_marks(self, since: datetime) -> list[tuple[str, str, datetime, str, str]]:
        """Operators' marks made since a time (uid, status, at, actor, note)."""
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT e.uid, f.status, e.at, e.actor, e.note FROM finding_events AS e JOIN findings AS f USING (uid)"
                " WHERE e.at > $1 AND e.event IN ('marked_false_positive', 'marked_fixed', 'reopened') ORDER BY e.id",
                since)
        return [tuple(row) for row in rows]  # type: ignore[misc]

    # ------------------------------------------------------------------ what the checks read and keep

    async def health_probes(self, subject: str, since: datetime) -> list[HealthProbeRecord]:
        async with self._reading() as db:
            rows = await db.fetch("SELECT at, ok, error, status, ms FROM health_probes"
                                  " WHERE subject = (SELECT key FROM subjects WHERE name = $1) AND at >= $2"
                                  " ORDER BY at", subject, since)
        return [HealthProbeRecord(subject, at, ok, error, status, ms) for at, ok, error, status, ms in rows]

    async def check_runs(self, subjects: Sequence[str] | None = None) -> dict[tuple[str, str], datetime]:
        async with self._reading() as db:
            if subjects is None:
                rows = await db.fetch("SELECT check_name, subject, at FROM check_runs")
            else:
                rows = await db.fetch("SELECT check_name, subject, at FROM check_runs WHERE subject = ANY($1::text[])",
                                      list(subjects))
        return {(check, subject): at for check, subject, at in rows}

    async def recent_item_urls(self, target_ids: Sequence[str], limit: int) -> list[str]:
        """The newest items' URLs the probes of these targets saw (by claimed date, then first sighting)."""
        if not target_ids or limit <= 0:
            return []
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT url FROM items WHERE subject IN (SELECT key FROM subjects WHERE name = ANY($1::text[]))"
                " GROUP BY url ORDER BY MAX(date) IS NULL, MAX(date) DESC, MAX(first_seen) DESC, url COLLATE \"C\""
                " LIMIT $2",
                list(target_ids), limit)
        return [url for (url,) in rows]

    async def honest_history(self, target_id: str) -> tuple[list[Any], list[datetime]]:
        """What ``monitor.checks.honest`` needs of one column, bounded (as the SQLite store's)."""
        from monitor.checks.honest import SeenItem

        good = ("SELECT p.at FROM probes AS p JOIN results AS r ON r.id = p.result"
                f" WHERE p.subject = (SELECT key FROM subjects WHERE name = $1) AND {_GOOD}")
        async with self._reading() as db:
            rows = await db.fetch(
                "WITH k AS (SELECT key FROM subjects WHERE name = $1)"
                " SELECT url, title, date, first_seen, last_seen, prev_date, date_changed_at FROM items"
                " WHERE subject = (SELECT key FROM k) AND last_seen >= (SELECT MIN(first_seen) FROM items"
                "  WHERE subject = (SELECT key FROM k) AND last_seen = (SELECT MAX(last_seen) FROM items"
                "  WHERE subject = (SELECT key FROM k))) ORDER BY first_seen, url", target_id)
            if not rows:
                return [], []
            since = min(r[3] for r in rows)
            first = await db.fetchval(f"{good} ORDER BY p.at LIMIT 1", target_id)
            probes = [at for (at,) in await db.fetch(f"{good} AND p.at >= $2 ORDER BY p.at", target_id, since)]
        items = [SeenItem(*row) for row in rows]
        return items, ([first] if first is not None and first < since else []) + probes

    async def column_items(self, target_id: str, since: date) -> list[Any]:
        """A column's stored items dated since ``since`` (undated ones: first seen since), oldest sighting first."""
        from monitor.checks.honest import SeenItem
        from monitor.evaluate import start_of_day

        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT url, title, date, first_seen, last_seen FROM items"
                " WHERE subject = (SELECT key FROM subjects WHERE name = $1)"
                " AND (date >= $2 OR (date IS NULL AND first_seen >= $3)) ORDER BY first_seen",
                target_id, since, start_of_day(since))
        return [SeenItem(*row) for row in rows]

    async def save_messages(self, box_id: str, messages: Sequence[Any], at: datetime) -> None:
        """Replace a message box's stored messages with those just read."""
        rows = [(box_id, seq, m.title, m.url, m.asked, m.answered, str(m.status), m.status_text, at)
                for seq, m in enumerate(messages)]
        async with self._transaction() as db:
            await db.execute("DELETE FROM messages WHERE box_id = $1", box_id)
            await db.executemany("INSERT INTO messages (box_id, seq, title, url, asked, answered, status, status_text,"
                                 " read_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", rows)

    async def load_messages(self) -> dict[str, tuple[datetime, list[Any]]]:
        """Per message box, when it was last read and its messages then, in page order."""
        from monitor.extract.message_box import Message, MessageStatus

        boxes: dict[str, tuple[datetime, list[Any]]] = {}
        async with self._reading() as db:
            rows = await db.fetch("SELECT box_id, title, url, asked, answered, status, status_text, read_at"
                                  " FROM messages ORDER BY box_id, seq")
        for box_id, title, url, asked, answered, status, status_text, read_at in rows:
            _, messages = boxes.setdefault(box_id, (read_at, []))
            messages.append(Message(title, url, asked, answered, MessageStatus(status), status_text))
        return boxes

    # ------------------------------------------------------------------ the outbox

    async def outbox_due(self, channel: str, now: datetime, limit: int = 100) -> list[OutboxRow]:
        """Pending items of one channel that may go now, oldest first, stopping at the first that may not."""
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT id, key, channel, created_at, payload, attempts, not_before, next_attempt_at FROM outbox"
                " WHERE channel = $1 AND status = 'pending' ORDER BY id LIMIT $2", channel, limit)
        due = []
        for rid, key, chan, created, payload, attempts, not_before, retry_at in rows:
            if not_before > now or (retry_at is not None and retry_at > now):
                break
            due.append(OutboxRow(rid, key, chan, created, json.loads(payload), attempts))
        return due

    async def outbox_next(self) -> dict[str, datetime]:
        """For every channel with pending items, when its oldest pending item may be sent."""
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT DISTINCT ON (channel) channel, GREATEST(not_before, next_attempt_at) FROM outbox"
                " WHERE status = 'pending' ORDER BY channel, id")
        return {channel: when for channel, when in rows}

    async def outbox_sent(self, ids: Sequence[int], at: datetime) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1"
                             " WHERE id = ANY($1::bigint[]) AND status = 'pending'", list(ids), at)

    async def outbox_failed(self, ids: Sequence[int], error: str, retry_at: datetime) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3"
                             " WHERE id = ANY($1::bigint[]) AND status = 'pending'", list(ids), error[:500], retry_at)

    async def outbox_drop(self, ids: Sequence[int], by: str) -> int:
        async with self._transaction() as db:
            done = await db.execute("UPDATE outbox SET status = 'dropped', reason = $2 WHERE id = ANY($1::bigint[])"
                                    " AND status = 'pending'", list(ids), f"dropped by {by}")
        return int(done.split()[-1])

    async def outbox_pending(self, ids: Sequence[int]) -> set[int]:
        if not ids:
            return set()
        async with self._reading() as db:
            rows = await db.fetch("SELECT id FROM outbox WHERE status = 'pending' AND id = ANY($1::bigint[])",
                                  list(ids))
        return {r[0] for r in rows}

    async def outbox_stats(self) -> dict[str, dict[str, Any]]:
        """Per channel: pending count, oldest pending time, attempts and last error of the head item."""
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT channel, COUNT(*), MIN(created_at), MAX(attempts),"
                " (SELECT last_error FROM outbox AS h WHERE h.channel = o.channel AND h.status = 'pending'"
                "  ORDER BY id LIMIT 1) FROM outbox AS o WHERE status = 'pending' GROUP BY channel")
        return {c: {"pending": n, "oldest": oldest, "attempts": a, "last_error": err} for c, n, oldest, a, err in rows}

    async def outbox_list(self, status: str | None = None, limit: int = 200,
                          target_id: str | None = None) -> list[dict[str, Any]]:
        filters = [(column, value) for column, value in (("status", status), ("target_id", target_id))
                   if value is not None]
        where = " AND ".join(f"{column} = ${n}" for n, (column, _) in enumerate(filters, start=1))
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT id, key, channel, created_at, status, reason, attempts, last_error, sent_at, payload"
                f" FROM outbox {'WHERE ' + where if where else ''} ORDER BY id DESC LIMIT ${len(filters) + 1}",
                *(v for _, v in filters), limit)
        return [{"id": r[0], "key": r[1], "channel": r[2], "created_at": r[3], "status": r[4], "reason": r[5],
                 "attempts": r[6], "last_error": r[7], "sent_at": r[8], "payload": json.loads(r[9])} for r in rows]

    async def outbox_held(self, limit: int = 10_000) -> list[HeldRow]:
        """Items a mute holds back, oldest first."""
        async with self._reading() as db:
            rows = await db.fetch("SELECT id, channel, created_at, payload, reason FROM outbox WHERE status = 'held'"
                                  " ORDER BY id LIMIT $1", limit)
        return [HeldRow(rid, channel, created, json.loads(payload), reason)
                for rid, channel, created, payload, reason in rows]

    async def outbox_settle(self, release: Sequence[Release], lapse: Sequence[int]) -> None:
        """Held items released (pending again, keeping their place in their channel's order) or lapsed."""
        async with self._transaction() as db:
            if release:
                await db.execute(
                    """UPDATE outbox SET status = 'pending', payload = x.p, not_before = x.nb
                       FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS x(i, p, nb)
                       WHERE outbox.id = x.i AND outbox.status = 'held'""",
                    [r.id for r in release], [json.dumps(r.payload, ensure_ascii=False) for r in release],
                    [r.not_before for r in release])
            if lapse:
                await db.execute("UPDATE outbox SET status = 'lapsed' WHERE id = ANY($1::bigint[]) AND status = 'held'",
                                 list(lapse))

    async def mqtt_retained(self) -> list[dict[str, Any]]:
        async with self._reading() as db:
            rows = await db.fetch(f"SELECT payload FROM outbox WHERE id IN ({_NEWEST_RETAINED}) ORDER BY id")
        return [json.loads(payload) for (payload,) in rows]

    # ------------------------------------------------------------------ silences

    async def silence_add(self, scope: str, scope_id: str, ends_at: datetime, reason: str, by: str,
                          now: datetime, discard: bool = False) -> int:
        async with self._transaction() as db:
            return int(await db.fetchval(
                "INSERT INTO silences (scope, scope_id, ends_at, reason, created_by, created_at, discard)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id", scope, scope_id, ends_at, reason, by, now,
                discard))

    async def silence_remove(self, silence_id: int) -> bool:
        async with self._transaction() as db:
            done = await db.execute("UPDATE silences SET removed_at = now() WHERE id = $1 AND removed_at IS NULL",
                                    silence_id)
        return done != "UPDATE 0"

    async def silences(self, now: datetime) -> list[Silence]:
        async with self._reading() as db:
            rows = await db.fetch("SELECT id, scope, scope_id, ends_at, reason, created_by, created_at, discard"
                                  " FROM silences"
                                  " WHERE removed_at IS NULL AND ends_at > $1 ORDER BY id", now)
        return [Silence(*row) for row in rows]

    # ------------------------------------------------------------------ the quarterly report's history

    async def report_targets(self, start: datetime, end: datetime) -> list[TargetInfo]:
        """Columns, homepages and accounts watched in [start, end): active ones, and those with a verdict then."""
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT id, kind, name, url, site_id, site_name, unit_id, unit_name, category FROM targets"
                " WHERE kind IN ('column', 'homepage', 'account') AND (active OR id IN"
                " (SELECT s.name FROM verdicts AS v JOIN subjects AS s ON s.key = v.subject"
                "  WHERE v.at >= $1 AND v.at < $2)) ORDER BY unit_id COLLATE \"C\", site_id COLLATE \"C\","
                " kind COLLATE \"C\" DESC, id COLLATE \"C\"", start, end)
        return [TargetInfo(*row) for row in rows]

    async def verdicts_before(self, end: datetime) -> list[VerdictRow]:
        """Every stored verdict change before ``end``, oldest first."""
        async with self._reading() as db:
            rows = await db.fetch("SELECT s.name, v.at, v.state, v.newest_date, v.deadline, r.text FROM verdicts AS v"
                                  " JOIN subjects AS s ON s.key = v.subject JOIN texts AS r ON r.id = v.reasons"
                                  " WHERE v.at < $1 ORDER BY v.at, v.id", end)
        return [VerdictRow(tid, at, State(state), newest, deadline, tuple(json.loads(reasons)))
                for tid, at, state, newest, deadline, reasons in rows]

    async def finding_trails(self, checks: Sequence[str], before: datetime) -> list[FindingEvent]:
        """The trails (events before ``before``) of the findings of these checks that no operator marked a false
        positive, finding by finding, each oldest event first."""
        if not checks:
            return []
        async with self._reading() as db:
            rows = await db.fetch(
                "SELECT f.uid, f.check_name, f.subject, f.key, f.site_id, f.title, f.detail, e.at, e.event, e.severity"
                " FROM findings AS f JOIN finding_events AS e USING (uid)"
                " WHERE f.check_name = ANY($1::text[]) AND f.status != 'false_positive' AND e.at < $2"
                " ORDER BY f.uid COLLATE \"C\", e.id", list(checks), before)
        return [FindingEvent(*row[:9], State(row[9])) for row in rows]

    # ------------------------------------------------------------------ retention: compaction and backup

    async def compact(self, before: datetime, availability_before: datetime | None = None) -> int:
        """Reduce old column and availability probes to the ends of their runs of identical results and drop the
        MQTT copies sent before ``before`` (as the SQLite store does), in short transactions; PostgreSQL's
        autovacuum then reuses the space. Returns how many probes went."""
        async with self._reading() as db:
            subjects = [key for (key,) in await db.fetch("SELECT key FROM subjects ORDER BY key")]
        removed = 0
        for table, until in (("probes", before), ("health_probes", availability_before or before)):
            since = await self._compacted_before(table)
            while since is not None and since < until:
                upto = min(until, datetime.fromtimestamp(since.timestamp() + COMPACT_SPAN_S, UTC))
                for first in range(0, len(subjects), COMPACT_SUBJECTS):
                    async with self._transaction() as db:
                        removed += await _compact(db, table, subjects[first:first + COMPACT_SUBJECTS], since, upto)
                async with self._transaction() as db:
                    await db.execute("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key)"
                                     " DO UPDATE SET value = excluded.value", f"compacted_before:{table}",
                                     upto.isoformat())
                since = upto
        async with self._transaction() as db:
            await db.execute("DELETE FROM outbox WHERE channel = 'mqtt' AND status = 'sent' AND created_at < $1"
                             f" AND id NOT IN ({_NEWEST_RETAINED})", before)
        return removed

    async def _compacted_before(self, table: str) -> datetime | None:
        """Where the last compaction of ``table`` stopped (first time: its oldest probe; None: no probes)."""
        async with self._reading() as db:
            done = await db.fetchval("SELECT value FROM meta WHERE key = $1", f"compacted_before:{table}")
            return datetime.fromisoformat(done) if done else await db.fetchval(f"SELECT MIN(at) FROM {table}")

    async def backup(self, to: Path) -> None:
        """A consistent copy of the database at ``to`` by ``pg_dump`` (custom format, one snapshot, taken while
        the daemons write), checked by reading its table of contents back with ``pg_restore --list``, and put in
        place only then. Restore it with ``pg_restore -d postgresql://… FILE``."""
        dump, restore = shutil.which("pg_dump"), shutil.which("pg_restore")
        if dump is None or restore is None:
            raise OSError("PostgreSQL 的备份需要 pg_dump 和 pg_restore（Debian: apt-get install postgresql-client）"
                          " — pg_dump and pg_restore are needed to back up a PostgreSQL store")
        partial = to.with_name(f".{to.name}.partial")
        try:
            done = await asyncio.to_thread(subprocess.run, [dump, "--format=custom", f"--file={partial}",
                                                            f"--dbname={self.dsn}"], capture_output=True, text=True)
            if done.returncode != 0:
                raise OSError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
            listed = await asyncio.to_thread(subprocess.run, [restore, "--list", str(partial)], capture_output=True,
                                             text=True)
            if listed.returncode != 0 or not re.search(r"TABLE DATA \S+ probes ", listed.stdout):
                raise OSError(f"the copy failed its check (pg_restore --list): {listed.stderr.strip()[-500:]}")
            partial.replace(to)
        finally:
            partial.unlink(missing_ok=True)


async def _compact(db: asyncpg.Connection, table: str, subjects: Sequence[int], since: datetime,
                   upto: datetime) -> int:
    """Delete the middles of runs of identical results of these subjects' probes in [since, upto); the window
    reaches one probe beyond each end so runs crossing either end are seen whole."""
    same = _RUN_IDENTITY[table]
    row = f"({', '.join(same)})"
    middle = (f"{row} IS NOT DISTINCT FROM ({', '.join(f'LAG({c}) OVER w' for c in same)}) AND"
              f" {row} IS NOT DISTINCT FROM ({', '.join(f'LEAD({c}) OVER w' for c in same)})")
    done = await db.execute(f"""
        DELETE FROM {table} AS t USING (
            SELECT subject, at FROM (
                SELECT p.subject, p.at, {middle} AS middle FROM {table} AS p
                JOIN unnest($1::integer[]) AS s(key) ON p.subject = s.key
                WHERE p.at >= COALESCE((SELECT MAX(at) FROM {table} WHERE subject = s.key AND at < $2), $2)
                  AND p.at <= COALESCE((SELECT MIN(at) FROM {table} WHERE subject = s.key AND at >= $3), $3)
                WINDOW w AS (PARTITION BY p.subject ORDER BY p.at)) AS marked
            WHERE middle AND at >= $2 AND at < $3) AS gone
        WHERE t.subject = gone.subject AND t.at = gone.at""", list(subjects), since, upto)
    return int(done.split()[-1])


def _content(obs: Observation) -> tuple[Any, ...]:
    """What a probe read, as stored in its result row."""
    return (obs.http_status, obs.error, obs.detail, obs.not_modified, obs.newest_date, obs.reason, obs.signature,
            obs.content_hash, len(obs.items), obs.final_url)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _known(row: Sequence[Any]) -> Known:
    check, subject, key, severity, title, unit_id, site_id, url, detail, evidence, status, first, changed = row
    finding = Finding(check, subject, key, State(severity), title, unit_id, site_id, url, detail, json.loads(evidence))
    return Known(finding, Status(status), first, changed)


def _finding_dict(known: Known) -> dict[str, Any]:
    f = known.finding
    return {"uid": f.uid, "check": f.check, "label": f.label, "subject": f.subject, "key": f.key,
            "severity": str(f.severity), "status": str(known.status), "title": f.title, "detail": f.detail,
            "url": f.url, "unit_id": f.unit_id, "site_id": f.site_id, "evidence": dict(f.evidence),
            "first_seen": known.first_seen, "changed_at": known.changed_at}


def _observation(target_id: str, row: Sequence[Any]) -> Observation:
    """An observation from a probe's time and fetch ms followed by its result's columns."""
    at, ms, status, error, detail, not_modified, newest, reason, signature, content_hash, _count, final_url = row
    return Observation(
        target_id=target_id, at=at, fetch_ms=float(ms), http_status=status,
        error=FetchError(error) if error else None, detail=detail, not_modified=bool(not_modified),
        newest_date=newest, reason=EmptyReason(reason) if reason else None, signature=signature,
        content_hash=content_hash, final_url=final_url,
    )
