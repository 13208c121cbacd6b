"""SQLite store: WAL mode, versioned migrations, one transaction per batch.

WAL with ``synchronous=NORMAL`` keeps the file consistent when the process is killed at any
moment (a commit is atomic; at worst the last batch is lost and re-probed). Times are stored as
UTC unix seconds, dates as ISO text.

Sized to last for years (migration 5): a probe is a small row (subject number, time, fetch ms, result
number) and a run of identical results shares one result row; ``compact`` later reduces old runs to
their ends and incremental vacuum gives the space back.

All database work runs on one dedicated thread with the standard library's sqlite3: a whole
batch is one hop off the event loop, not one per statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog

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
from monitor.store import NoRoom

log = structlog.get_logger()

MIGRATIONS: tuple[str, ...] = (
    # 1: targets, observations, items with first-seen times, verdict history, current state
    """
    CREATE TABLE targets (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL,
        site_id TEXT NOT NULL, site_name TEXT NOT NULL, unit_id TEXT NOT NULL, unit_name TEXT NOT NULL,
        category TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1, updated_at REAL NOT NULL
    );
    CREATE TABLE observations (
        id INTEGER PRIMARY KEY, target_id TEXT NOT NULL, at REAL NOT NULL, fetch_ms REAL NOT NULL,
        http_status INTEGER, error TEXT, detail TEXT, not_modified INTEGER NOT NULL,
        newest_date TEXT, reason TEXT, signature TEXT, content_hash TEXT, item_count INTEGER NOT NULL
    );
    CREATE INDEX observations_target_at ON observations (target_id, at);
    CREATE TABLE items (
        target_id TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL, date TEXT,
        first_seen REAL NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (target_id, url)
    ) WITHOUT ROWID;
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY, target_id TEXT NOT NULL, at REAL NOT NULL, state TEXT NOT NULL,
        reasons TEXT NOT NULL, newest_date TEXT, deadline REAL, detail TEXT NOT NULL
    );
    CREATE INDEX verdicts_target_at ON verdicts (target_id, at);
    CREATE TABLE current (
        target_id TEXT PRIMARY KEY, state TEXT NOT NULL, reasons TEXT NOT NULL, newest_date TEXT,
        yellow_at REAL, deadline REAL, next_change REAL, detail TEXT NOT NULL, since REAL NOT NULL,
        last_obs INTEGER, last_good_obs INTEGER, newest_first_seen REAL,
        etag TEXT, last_modified TEXT
    );
    """,
    # 2: the durable outbox (notifications and MQTT events) and silences
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, channel TEXT NOT NULL, created_at REAL NOT NULL,
        not_before REAL NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, target_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, next_attempt_at REAL, sent_at REAL
    );
    CREATE INDEX outbox_channel_pending ON outbox (channel, status, id);
    CREATE INDEX outbox_target ON outbox (target_id, id);
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY, scope TEXT NOT NULL, scope_id TEXT NOT NULL, ends_at REAL NOT NULL,
        reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL, removed_at REAL
    );
    """,
    # 3: findings with their trail, homepage availability probes, items' previous dates
    """
    CREATE TABLE findings (
        uid TEXT PRIMARY KEY, check_name TEXT NOT NULL, subject TEXT NOT NULL, key TEXT NOT NULL,
        unit_id TEXT NOT NULL, site_id TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,
        title TEXT NOT NULL, detail TEXT NOT NULL, url TEXT, evidence TEXT NOT NULL,
        first_seen REAL NOT NULL, changed_at REAL NOT NULL
    );
    CREATE INDEX findings_subject ON findings (check_name, subject);
    CREATE INDEX findings_status ON findings (status, unit_id);
    CREATE TABLE finding_events (
        id INTEGER PRIMARY KEY, uid TEXT NOT NULL, at REAL NOT NULL, event TEXT NOT NULL,
        severity TEXT NOT NULL, actor TEXT NOT NULL, note TEXT NOT NULL
    );
    CREATE INDEX finding_events_uid ON finding_events (uid, id);
    CREATE TABLE health_probes (
        subject TEXT NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL, error TEXT, status INTEGER, ms REAL
    );
    CREATE INDEX health_probes_subject_at ON health_probes (subject, at);
    ALTER TABLE items ADD COLUMN prev_date TEXT;
    ALTER TABLE items ADD COLUMN date_changed_at REAL
    """,
    # 4: citizens' messages as last read from each message box
    """
    CREATE TABLE messages (
        box_id TEXT NOT NULL, seq INTEGER NOT NULL, title TEXT NOT NULL, url TEXT, asked TEXT NOT NULL,
        answered TEXT, status TEXT NOT NULL, status_text TEXT NOT NULL, read_at REAL NOT NULL,
        PRIMARY KEY (box_id, seq)
    ) WITHOUT ROWID
    """,
    # 5: a store small enough to keep for years. A probe is (subject, time, fetch ms, result); its result (what it
    # read) is stored once for a run of identical probes. Subjects (target and site ids) are numbered once, and
    # probes, availability probes, items and verdicts name them by number; a verdict's reasons and detail are
    # texts stored once (thousands of columns share "最新信息 2026-03-01（…）"). Existing observations are folded
    # into runs the same way.
    """
    CREATE TABLE subjects (key INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE results (
        id INTEGER PRIMARY KEY, http_status INTEGER, error TEXT, detail TEXT, not_modified INTEGER NOT NULL,
        newest_date TEXT, reason TEXT, signature TEXT, content_hash TEXT, item_count INTEGER NOT NULL
    );
    CREATE INDEX results_without_items ON results (http_status, error, detail) WHERE item_count = 0;
    CREATE TABLE probes (
        subject INTEGER NOT NULL, at REAL NOT NULL, ms INTEGER NOT NULL, result INTEGER NOT NULL,
        PRIMARY KEY (subject, at)
    ) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    ALTER TABLE health_probes RENAME TO health_probes_v4;
    CREATE TABLE health_probes (
        subject INTEGER NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL, status INTEGER, error TEXT, ms INTEGER,
        PRIMARY KEY (subject, at)
    ) WITHOUT ROWID;
    INSERT INTO subjects (name) SELECT target_id FROM observations UNION SELECT subject FROM health_probes_v4
        UNION SELECT target_id FROM items UNION SELECT target_id FROM verdicts;
    CREATE TEMP TABLE runs AS
    WITH marked AS (
        SELECT id, target_id, at,
            (http_status, error, detail, not_modified, newest_date, reason, signature, content_hash, item_count)
            IS NOT (LAG(http_status) OVER w, LAG(error) OVER w, LAG(detail) OVER w, LAG(not_modified) OVER w,
                    LAG(newest_date) OVER w, LAG(reason) OVER w, LAG(signature) OVER w, LAG(content_hash) OVER w,
                    LAG(item_count) OVER w) AS starts
        FROM observations WINDOW w AS (PARTITION BY target_id ORDER BY at, id)
    ), numbered AS (
        SELECT id, target_id, at, SUM(starts) OVER (PARTITION BY target_id ORDER BY at, id) AS run FROM marked
    )
    SELECT id, FIRST_VALUE(id) OVER (PARTITION BY target_id, run ORDER BY at, id) AS result FROM numbered;
    INSERT INTO results
        SELECT id, http_status, error, detail, not_modified, newest_date, reason, signature, content_hash, item_count
        FROM observations WHERE id IN (SELECT result FROM runs);
    INSERT OR REPLACE INTO probes
        SELECT s.key, o.at, CAST(ROUND(o.fetch_ms) AS INTEGER), r.result
        FROM observations AS o JOIN runs AS r USING (id) JOIN subjects AS s ON s.name = o.target_id
        ORDER BY o.id;
    UPDATE current SET last_obs = (SELECT result FROM runs WHERE runs.id = current.last_obs),
                       last_good_obs = (SELECT result FROM runs WHERE runs.id = current.last_good_obs);
    ALTER TABLE current RENAME COLUMN last_obs TO last_result;
    ALTER TABLE current RENAME COLUMN last_good_obs TO last_good_result;
    INSERT OR REPLACE INTO health_probes
        SELECT s.key, h.at, h.ok, h.status, h.error, CAST(ROUND(h.ms) AS INTEGER)
        FROM health_probes_v4 AS h JOIN subjects AS s ON s.name = h.subject ORDER BY h.rowid;
    DROP TABLE runs;
    DROP TABLE observations;
    DROP TABLE health_probes_v4;
    ALTER TABLE items RENAME TO items_v4;
    CREATE TABLE items (
        subject INTEGER NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL, date TEXT, first_seen REAL NOT NULL,
        last_seen REAL NOT NULL, prev_date TEXT, date_changed_at REAL, PRIMARY KEY (subject, url)
    ) WITHOUT ROWID;
    INSERT INTO items
        SELECT s.key, i.url, i.title, i.date, i.first_seen, i.last_seen, i.prev_date, i.date_changed_at
        FROM items_v4 AS i JOIN subjects AS s ON s.name = i.target_id;
    DROP TABLE items_v4;
    CREATE TABLE texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
    INSERT INTO texts (text) SELECT reasons FROM verdicts UNION SELECT detail FROM verdicts;
    ALTER TABLE verdicts RENAME TO verdicts_v4;
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY, subject INTEGER NOT NULL, at REAL NOT NULL, state TEXT NOT NULL,
        reasons INTEGER NOT NULL, newest_date TEXT, deadline REAL, detail INTEGER NOT NULL
    );
    INSERT INTO verdicts
        SELECT v.id, s.key, v.at, v.state, r.id, v.newest_date, v.deadline, d.id
        FROM verdicts_v4 AS v JOIN subjects AS s ON s.name = v.target_id JOIN texts AS r ON r.text = v.reasons
        JOIN texts AS d ON d.text = v.detail;
    DROP TABLE verdicts_v4;
    CREATE INDEX verdicts_subject_at ON verdicts (subject, at)
    """,
    # 6: where a probe's page was read after redirects, when not at the target's own URL
    """
    ALTER TABLE results ADD COLUMN final_url TEXT
    """,
    # 7: held alerts (an inhibition or a silence held them back: sent when it ends if still due) and silences that
    # discard what they held instead
    """
    ALTER TABLE silences ADD COLUMN discard INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outbox_held ON outbox (id) WHERE status = 'held'
    """,
    # 8: when each check last ran on each subject: a restarted daemon (or a cluster's daemon taking a subject over)
    # runs it one interval after that, not at a random time
    """
    CREATE TABLE check_runs (
        subject TEXT NOT NULL, check_name TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (subject, check_name)
    ) WITHOUT ROWID
    """,
)

T = TypeVar("T")

_RESULT_COLUMNS = ("http_status, error, detail, not_modified, newest_date, reason, signature, content_hash, item_count,"
                   " final_url")
# A successful read: a dated list, or "not modified" since one (the honest-dates check counts these probes)
_GOOD = "r.error IS NULL AND (r.newest_date IS NOT NULL OR r.not_modified = 1)"
_SUBJECT = "(SELECT key FROM subjects WHERE name = ?)"
CACHE_SIZE = -2000  # pages in memory; negative: KiB (SQLite's default, 2 MB)
COMPACT_SUBJECTS = 50  # subjects per compaction transaction
COMPACT_SPAN_S = 7 * 86400  # and at most a week of their probes: each transaction stays short
# The newest retained MQTT message sent to each topic: what a broker that lost its retained messages is given again
_NEWEST_RETAINED = ("SELECT MAX(id) FROM outbox WHERE channel = 'mqtt' AND status = 'sent'"
                    " AND json_extract(payload, '$.retain') GROUP BY json_extract(payload, '$.topic')")
# Free bytes beside the store that compaction wants before it starts: its transactions and the pages incremental
# vacuum moves grow the WAL. Less, and it is put off (NoRoom) rather than filling the disk the daemon writes to.
COMPACT_ROOM = 16 << 20
# What makes two probes "the same" for compaction: a run of them is reduced to its first and last
_RUN_IDENTITY = {"probes": ("result",), "health_probes": ("ok", "status", "error")}


def _ts(when: datetime | None) -> float | None:
    return when.timestamp() if when else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


# Errors of the file rather than of the statement: the connection is reopened before its next use, so a store
# opened read-only (or left in a bad state by an I/O error) recovers once the cause goes.
_REOPEN_AFTER = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_CORRUPT", "SQLITE_NOTADB")


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._reopen = False
        self._unconverted = False  # a file from before incremental vacuum whose one-time VACUUM waits for room
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        # What this connection last wrote, to spare the hot path a statement or two per probe: subjects' keys,
        # texts' numbers, each target's last two distinct results (content, id), the results without items shared
        # by all, and each ``current`` row's last inputs. Forgotten whenever a transaction fails: what it wrote is
        # gone.
        self._numbers: dict[str, dict[str, int]] = {}  # table (subjects, texts) → value → its number
        self._results: dict[str, tuple[tuple[tuple[Any, ...], int], ...]] = {}  # newest first
        self._shared: dict[tuple[Any, ...], int] = {}
        self._current: dict[str, tuple[Any, ...]] = {}

    @property
    def db(self) -> sqlite3.Connection:
        """The connection; reopened first when the last error came from the file."""
        if self._db is None:
            raise RuntimeError("store is not open")
        if self._reopen:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = self._connect()
            self._reopen = False
        return self._db

    async def _run(self, work: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    async def open(self) -> None:
        await self._run(self._open)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            if db.execute("PRAGMA page_count").fetchone() == (0,):
                # a new file: incremental vacuum before anything is written (an older file is converted in _open)
                db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000",
                           f"cache_size={CACHE_SIZE}"):
                db.execute(f"PRAGMA {pragma}")
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._connect()
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            statements = [s for s in script.split(";") if s.strip()]

            def migrate(statements: list[str] = statements, number: int = number) -> None:
                for statement in statements:
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

            self._transaction(migrate)
        self._unconverted = self.db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2
        if self._unconverted:
            try:
                self._convert()
            except NoRoom as exc:  # the daemon starts all the same; compaction tries again
                log.warning("vacuum_deferred", store=str(self.path), need_bytes=exc.need, free_bytes=exc.free)

    def _free(self) -> int:
        return shutil.disk_usage(self.path.parent).free

    def _convert(self) -> None:
        """Once, for a file made before incremental vacuum: rebuild it by VACUUM so compaction can give space back.
        VACUUM writes a copy of the database and then the WAL it goes back through: about twice the file's size
        must be free, or it is put off (NoRoom) rather than filling the disk; a full disk meanwhile puts it off
        the same way."""
        page_size, pages = (self.db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count"))
        need = 2 * page_size * pages
        if (free := self._free()) < need:
            raise NoRoom("vacuum", need, free)
        try:
            self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self.db.execute("VACUUM")
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_FULL":
                raise
            raise NoRoom("vacuum", need, self._free()) from exc
        self._unconverted = False
        log.info("vacuumed", store=str(self.path), bytes=self.path.stat().st_size)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._thread.shutdown(wait=True)

    def _transaction(self, work: Callable[..., T], *args: Any) -> T:
        """Every write goes through here: ``work`` is committed whole, or rolled back and its own error raised.

        SQLite may already have rolled back a failed statement or COMMIT itself (a full disk does): the error
        raised is then still the real cause, never "cannot rollback - no transaction is active". After an
        error of the file (read-only, I/O) the connection is reopened before its next use.
        """
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            result = work(*args)
            db.execute("COMMIT")
        except BaseException as exc:
            self._numbers, self._results, self._shared, self._current = {}, {}, {}, {}
            if getattr(exc, "sqlite_errorname", "").startswith(_REOPEN_AFTER):  # extended names too (SQLITE_IOERR_…)
                self._reopen = True
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    self._reopen = True
            raise
        return result

    async def sync_targets(self, targets: Sequence[Target], now: datetime) -> None:
        """Upsert the inventory's targets; targets no longer listed are marked inactive, not deleted."""
        rows = [(t.id, t.kind, t.name, t.url, t.site_id, t.site_name, t.unit_id, t.unit_name, t.rule.category,
                 now.timestamp()) for t in targets]

        def work() -> None:
            self.db.execute("UPDATE targets SET active = 0")
            self.db.executemany(
                """INSERT INTO targets (id, kind, name, url, site_id, site_name, unit_id, unit_name, category,
                                        active, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
                   ON CONFLICT (id) DO UPDATE SET kind=excluded.kind, name=excluded.name, url=excluded.url,
                     site_id=excluded.site_id, site_name=excluded.site_name, unit_id=excluded.unit_id,
                     unit_name=excluded.unit_name, category=excluded.category, active=1,
                     updated_at=excluded.updated_at""",
                rows,
            )

        await self._run(self._transaction, work)

    async def write(self, records: Sequence[Record]) -> None:
        if records:
            await self._run(self._transaction, self._write, records)

    def _write(self, records: Sequence[Record]) -> None:
        probes, health, runs = [], [], []
        for record in records:
            if isinstance(record, HealthProbeRecord):
                health.append((self._key(record.subject), record.at.timestamp(), int(record.ok), record.status,
                               record.error, None if record.ms is None else round(record.ms)))
                continue
            if isinstance(record, CheckRunRecord):
                runs.append((record.subject, record.check, record.at.timestamp()))
                continue
            self._outbox(record.items if isinstance(record, OutboxRecord) else record.outbox)
            if isinstance(record, OutboxRecord):
                continue
            if isinstance(record, FindingsRecord):
                self._findings(record.changes)
                continue
            if isinstance(record, VerdictRecord):
                self._verdict(record.target_id, record.at, record.verdict, changed=True)
                continue
            obs = record.observation
            result = self._result(obs)
            probes.append((self._key(obs.target_id), obs.at.timestamp(), round(obs.fetch_ms), result))
            if obs.items and record.items_changed:
                at, key = obs.at.timestamp(), self._key(obs.target_id)
                self.db.executemany(
                    """INSERT INTO items (subject, url, title, date, first_seen, last_seen)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT (subject, url) DO UPDATE SET title=excluded.title, date=excluded.date,
                         last_seen=excluded.last_seen,
                         prev_date=CASE WHEN excluded.date <> items.date THEN items.date ELSE items.prev_date END,
                         date_changed_at=CASE WHEN excluded.date <> items.date THEN excluded.last_seen
                                              ELSE items.date_changed_at END""",
                    [(key, i.url, i.title, _iso(i.date), at, at) for i in obs.items],
                )
            self._verdict(obs.target_id, obs.at, record.verdict, record.changed, result, record)
        # Two probes of one subject at the same instant (a stopped test clock) keep the later one.
        self.db.executemany("INSERT OR REPLACE INTO probes (subject, at, ms, result) VALUES (?, ?, ?, ?)", probes)
        self.db.executemany("INSERT OR REPLACE INTO health_probes (subject, at, ok, status, error, ms)"
                            " VALUES (?, ?, ?, ?, ?, ?)", health)
        self.db.executemany("INSERT INTO check_runs (subject, check_name, at) VALUES (?, ?, ?)"
                            " ON CONFLICT (subject, check_name) DO UPDATE SET at = excluded.at"
                            " WHERE excluded.at > check_runs.at", runs)

    def _key(self, name: str) -> int:
        """The small number standing for a target's or site's id in the tables with many rows (probes, items,
        verdicts): ids are long."""
        return self._number("subjects", "key", "name", name)

    def _text(self, text: str) -> int:
        """The number of a text stored once however many rows say it (a verdict's reasons and detail)."""
        return self._number("texts", "id", "text", text)

    def _number(self, table: str, number: str, column: str, value: str) -> int:
        known = self._numbers.setdefault(table, {})
        found = known.get(value)
        if found is None:
            row = self.db.execute(f"SELECT {number} FROM {table} WHERE {column} = ?", (value,)).fetchone()
            found = known[value] = row[0] if row else int(
                self.db.execute(f"INSERT INTO {table} ({column}) VALUES (?)", (value,)).lastrowid or 0)
        return found

    def _result(self, obs: Observation) -> int:
        """The id of what ``obs`` read. A run of identical probes shares one result row, and so do a target's
        return to what it read before (a page again after a failed fetch) and reads without items (a 304, a
        failure: one row for all targets): a year of probes holds about one result per change of the page."""
        content = (obs.http_status, obs.error, obs.detail, int(obs.not_modified), obs.newest_date, obs.reason,
                   obs.signature, obs.content_hash, len(obs.items), obs.final_url)
        recent = self._results.get(obs.target_id)
        if recent is None:
            row = self.db.execute(f"SELECT id, {_RESULT_COLUMNS} FROM results"
                                  " WHERE id = (SELECT last_result FROM current WHERE target_id = ?)",
                                  (obs.target_id,)).fetchone()
            recent = (((*row[1:5], _day(row[5]), *row[6:]), row[0]),) if row else ()
        found = next((rid for known, rid in recent if known == content), None)
        if found is None and not obs.items:
            found = self._shared.get(content)
            if found is None:
                values = (*content[:4], _iso(obs.newest_date), *content[5:])
                row = self.db.execute(f"SELECT id FROM results WHERE item_count = 0 AND ({_RESULT_COLUMNS}) IS"
                                      f" ({', '.join('?' * len(values))})", values).fetchone()
                found = self._shared[content] = row[0] if row else self._insert_result(values)
        if found is None:
            found = self._insert_result((*content[:4], _iso(obs.newest_date), *content[5:]))
        self._results[obs.target_id] = ((content, found), *(r for r in recent if r[0] != content))[:2]
        return found

    def _insert_result(self, values: tuple[Any, ...]) -> int:
        marks = ", ".join("?" * len(values))
        return int(self.db.execute(f"INSERT INTO results ({_RESULT_COLUMNS}) VALUES ({marks})", values).lastrowid)

    def _verdict(
        self, target_id: str, at: datetime, v: Verdict, changed: bool,
        result: int | None = None, probe: ProbeRecord | None = None,
    ) -> None:
        if changed:
            self.db.execute(
                "INSERT INTO verdicts (subject, at, state, reasons, newest_date, deadline, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._key(target_id), at.timestamp(), v.state, self._text(json.dumps(v.reasons)),
                 _iso(v.newest_date), _ts(v.deadline), self._text(v.detail)),
            )
        obs = probe.observation if probe else None
        good = obs is not None and obs.newest_date is not None
        first_seen, etag, lm = (probe.first_seen, probe.etag, probe.last_modified) if probe else (None, None, None)
        inputs = (v, result, good, probe is not None, first_seen, etag, lm)
        if not changed and self._current.get(target_id) == inputs:
            return  # the same update again would change nothing: most probes find their column as it was
        params = {
            "id": target_id, "state": v.state, "reasons": json.dumps(v.reasons), "newest": _iso(v.newest_date),
            "yellow": _ts(v.yellow_at), "deadline": _ts(v.deadline), "next": _ts(v.next_change),
            "detail": v.detail, "result": result, "good": int(good), "probe": int(probe is not None),
            "first_seen": _ts(first_seen), "etag": etag, "lm": lm, "at": at.timestamp(), "changed": int(changed),
        }
        self.db.execute(
            """INSERT INTO current (target_id, state, reasons, newest_date, yellow_at, deadline, next_change, detail,
                                    since, last_result, last_good_result, newest_first_seen, etag, last_modified)
               VALUES (:id, :state, :reasons, :newest, :yellow, :deadline, :next, :detail, :at, :result,
                       CASE WHEN :good THEN :result END, :first_seen, :etag, :lm)
               ON CONFLICT (target_id) DO UPDATE SET state=:state, reasons=:reasons, newest_date=:newest,
                 yellow_at=:yellow, deadline=:deadline, next_change=:next, detail=:detail,
                 since=CASE WHEN :changed THEN :at ELSE since END,
                 last_result=COALESCE(:result, last_result),
                 last_good_result=CASE WHEN :good THEN :result ELSE last_good_result END,
                 newest_first_seen=COALESCE(:first_seen, newest_first_seen),
                 etag=CASE WHEN :probe THEN :etag ELSE etag END,
                 last_modified=CASE WHEN :probe THEN :lm ELSE last_modified END""",
            params,
        )
        self._current[target_id] = inputs

    def _findings(self, changes: Sequence[Change]) -> None:
        rows, events = [], []
        for change in changes:
            known, f = change.known, change.known.finding
            rows.append((f.uid, f.check, f.subject, f.key, f.unit_id, f.site_id, str(f.severity), str(known.status),
                         f.title, f.detail, f.url, json.dumps(dict(f.evidence), ensure_ascii=False, default=str),
                         known.first_seen.timestamp(), known.changed_at.timestamp()))
            events.append((f.uid, known.changed_at.timestamp(), str(change.event), str(f.severity), change.actor,
                           change.note))
        self.db.executemany(
            """INSERT INTO findings (uid, check_name, subject, key, unit_id, site_id, severity, status, title, detail,
                                     url, evidence, first_seen, changed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (uid) DO UPDATE SET unit_id=excluded.unit_id, site_id=excluded.site_id,
                 severity=excluded.severity, status=excluded.status, title=excluded.title, detail=excluded.detail,
                 url=excluded.url, evidence=excluded.evidence, changed_at=excluded.changed_at""", rows)
        self.db.executemany("INSERT INTO finding_events (uid, at, event, severity, actor, note)"
                            " VALUES (?, ?, ?, ?, ?, ?)", events)

    async def load_findings(self) -> list[Known]:
        """Every finding ever recorded, with its status (gone and fixed ones too: seen again, they reappear)."""
        def query() -> list[Known]:
            rows = self.db.execute(f"SELECT {_FINDING_COLUMNS} FROM findings").fetchall()
            return [_known(row) for row in rows]

        return await self._run(query)

    async def findings_list(self, status: str | None = "open", check: str | None = None, unit_id: str | None = None,
                            site_id: str | None = None, subject: str | None = None,
                            limit: int = 500) -> list[dict[str, Any]]:
        """Findings as dicts for the board and the API, worst and newest first."""
        def query() -> list[dict[str, Any]]:
            filters = [(f"{column} = ?", value) for column, value in (
                ("status", status), ("check_name", check), ("unit_id", unit_id), ("site_id", site_id),
                ("subject", subject)) if value is not None]
            where = "WHERE " + " AND ".join(c for c, _ in filters) if filters else ""
            rows = self.db.execute(
                f"SELECT {_FINDING_COLUMNS} FROM findings {where}"
                " ORDER BY severity = 'red' DESC, changed_at DESC LIMIT ?", [*(v for _, v in filters), limit])
            return [_finding_dict(_known(row)) for row in rows]

        return await self._run(query)

    async def finding(self, uid: str) -> dict[str, Any] | None:
        """One finding with its trail (found, notified, marked, gone), oldest event first."""
        def query() -> dict[str, Any] | None:
            row = self.db.execute(f"SELECT {_FINDING_COLUMNS} FROM findings WHERE uid = ?", (uid,)).fetchone()
            if row is None:
                return None
            trail = self.db.execute("SELECT at, event, severity, actor, note FROM finding_events WHERE uid = ?"
                                    " ORDER BY id", (uid,)).fetchall()
            notified = self.db.execute(
                "SELECT channel, status, created_at, sent_at, reason FROM outbox WHERE key LIKE ? ORDER BY id",
                (f"finding|{uid}|%",)).fetchall()
            return {**_finding_dict(_known(row)),
                    "trail": [{"at": _dt(at), "event": ev, "severity": sev, "actor": actor, "note": note}
                              for at, ev, sev, actor, note in trail],
                    "notifications": [{"channel": c, "status": st, "created_at": _dt(ca), "sent_at": _dt(sa),
                                       "reason": r} for c, st, ca, sa, r in notified]}

        return await self._run(query)

    async def finding_mark(self, uid: str, status: Status, actor: str, note: str, now: datetime) -> Change | None:
        """An operator's mark written straight to the store (the CLI); the daemon takes it in within 30 s."""
        def work() -> Change | None:
            row = self.db.execute(f"SELECT {_FINDING_COLUMNS} FROM findings WHERE uid = ?", (uid,)).fetchone()
            if row is None:
                return None
            change = mark(_known(row), status, now, actor, note)
            self._findings([change])
            return change

        return await self._run(self._transaction, work)

    async def finding_marks(self, since: datetime) -> list[tuple[str, str, datetime, str, str]]:
        """Operators' marks made since a time (uid, status, at, actor, note): the daemon picks up marks made
        by the CLI against the same store."""
        def query() -> list[tuple[str, str, datetime, str, str]]:
            rows = self.db.execute(
                "SELECT e.uid, f.status, e.at, e.actor, e.note FROM finding_events AS e JOIN findings AS f USING (uid)"
                " WHERE e.at > ? AND e.event IN ('marked_false_positive', 'marked_fixed', 'reopened') ORDER BY e.id",
                (since.timestamp(),)).fetchall()
            return [(uid, status, _dt(at), actor, note) for uid, status, at, actor, note in rows]

        return await self._run(query)

    async def health_probes(self, subject: str, since: datetime) -> list[HealthProbeRecord]:
        def query() -> list[HealthProbeRecord]:
            rows = self.db.execute(f"SELECT at, ok, error, status, ms FROM health_probes WHERE subject = {_SUBJECT}"
                                   " AND at >= ? ORDER BY at", (subject, since.timestamp()))
            return [HealthProbeRecord(subject, _dt(at), bool(ok), error, status, ms)
                    for at, ok, error, status, ms in rows]

        return await self._run(query)

    async def check_runs(self, subjects: Sequence[str] | None = None) -> dict[tuple[str, str], datetime]:
        def query() -> dict[tuple[str, str], datetime]:
            if subjects is None:
                rows = self.db.execute("SELECT check_name, subject, at FROM check_runs")
            else:
                rows = self.db.execute("SELECT check_name, subject, at FROM check_runs"
                                       " WHERE subject IN (SELECT value FROM json_each(?))", (json.dumps(subjects),))
            return {(check, subject): _dt(at) for check, subject, at in rows}

        return await self._run(query)

    def _outbox(self, items: Sequence[OutboxItem]) -> None:
        if items:
            self.db.executemany(
                "INSERT OR IGNORE INTO outbox (key, channel, created_at, not_before, payload, status, reason,"
                " target_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(i.key, i.channel, i.created_at.timestamp(), i.not_before.timestamp(),
                  json.dumps(i.payload, ensure_ascii=False), i.status, i.suppressed, i.target_id) for i in items],
            )

    async def outbox_due(self, channel: str, now: datetime, limit: int = 100) -> list[OutboxRow]:
        """Pending items of one channel that may go now, oldest first, stopping at the first that may not.

        Order per channel is kept: an item waiting for its retry (or its quiet hours) holds back the
        items behind it.
        """
        def query() -> list[OutboxRow]:
            rows = self.db.execute(
                "SELECT id, key, channel, created_at, payload, attempts, not_before, next_attempt_at FROM outbox"
                " WHERE channel = ? AND status = 'pending' ORDER BY id LIMIT ?", (channel, limit),
            ).fetchall()
            due = []
            for rid, key, chan, created, payload, attempts, not_before, retry_at in rows:
                if not_before > now.timestamp() or (retry_at or 0) > now.timestamp():
                    break
                due.append(OutboxRow(rid, key, chan, _dt(created), json.loads(payload), attempts))
            return due

        return await self._run(query)

    async def outbox_next(self) -> dict[str, datetime]:
        """For every channel with pending items, when its oldest pending item may be sent."""
        def query() -> dict[str, datetime]:
            rows = self.db.execute(
                "SELECT channel, MAX(not_before, COALESCE(next_attempt_at, 0)) FROM outbox AS o"
                " WHERE status = 'pending' AND id = (SELECT MIN(id) FROM outbox WHERE channel = o.channel"
                " AND status = 'pending')"
            ).fetchall()
            return {channel: _dt(when) for channel, when in rows}

        return await self._run(query)

    async def outbox_sent(self, ids: Sequence[int], at: datetime) -> None:
        await self._run(self._transaction, lambda: self.db.executemany(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?",
            [(at.timestamp(), i) for i in ids]))

    async def outbox_failed(self, ids: Sequence[int], error: str, retry_at: datetime) -> None:
        await self._run(self._transaction, lambda: self.db.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE id = ? AND status = 'pending'", [(error[:500], retry_at.timestamp(), i) for i in ids]))

    async def outbox_drop(self, ids: Sequence[int], by: str) -> int:
        def work() -> int:
            return self.db.executemany(
                "UPDATE outbox SET status = 'dropped', reason = ? WHERE id = ? AND status = 'pending'",
                [(f"dropped by {by}", i) for i in ids]).rowcount

        return await self._run(self._transaction, work)

    async def outbox_pending(self, ids: Sequence[int]) -> set[int]:
        def query() -> set[int]:
            marks = ",".join("?" * len(ids))
            rows = self.db.execute(f"SELECT id FROM outbox WHERE status = 'pending' AND id IN ({marks})", list(ids))
            return {r[0] for r in rows}

        return await self._run(query) if ids else set()

    async def outbox_stats(self) -> dict[str, dict[str, Any]]:
        """Per channel: pending count, oldest pending time, attempts and last error of the head item."""
        def query() -> dict[str, dict[str, Any]]:
            rows = self.db.execute(
                "SELECT channel, COUNT(*), MIN(created_at), MAX(attempts),"
                " (SELECT last_error FROM outbox AS h WHERE h.channel = o.channel AND h.status = 'pending'"
                "  ORDER BY id LIMIT 1) FROM outbox AS o WHERE status = 'pending' GROUP BY channel"
            ).fetchall()
            return {c: {"pending": n, "oldest": _dt(oldest), "attempts": a, "last_error": err}
                    for c, n, oldest, a, err in rows}

        return await self._run(query)

    async def outbox_list(self, status: str | None = None, limit: int = 200,
                          target_id: str | None = None) -> list[dict[str, Any]]:
        def query() -> list[dict[str, Any]]:
            filters = [(clause, value) for clause, value in (("status = ?", status), ("target_id = ?", target_id))
                       if value is not None]
            where = "WHERE " + " AND ".join(c for c, _ in filters) if filters else ""
            args: list[Any] = [v for _, v in filters]
            rows = self.db.execute(
                f"SELECT id, key, channel, created_at, status, reason, attempts, last_error, sent_at, payload"
                f" FROM outbox {where} ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
            return [{"id": r[0], "key": r[1], "channel": r[2], "created_at": _dt(r[3]), "status": r[4],
                     "reason": r[5], "attempts": r[6], "last_error": r[7], "sent_at": _dt(r[8]),
                     "payload": json.loads(r[9])} for r in rows]

        return await self._run(query)

    async def outbox_held(self, limit: int = 10_000) -> list[HeldRow]:
        """Items a mute holds back, oldest first."""
        def query() -> list[HeldRow]:
            rows = self.db.execute("SELECT id, channel, created_at, payload, reason FROM outbox WHERE status = 'held'"
                                   " ORDER BY id LIMIT ?", (limit,)).fetchall()
            return [HeldRow(rid, channel, _dt(created), json.loads(payload), reason)
                    for rid, channel, created, payload, reason in rows]

        return await self._run(query)

    async def outbox_settle(self, release: Sequence[Release], lapse: Sequence[int]) -> None:
        """Held items released (pending again, keeping their place in their channel's order) or lapsed."""
        def work() -> None:
            self.db.executemany(
                "UPDATE outbox SET status = 'pending', payload = ?, not_before = ? WHERE id = ? AND status = 'held'",
                [(json.dumps(r.payload, ensure_ascii=False), r.not_before.timestamp(), r.id) for r in release])
            self.db.executemany("UPDATE outbox SET status = 'lapsed' WHERE id = ? AND status = 'held'",
                                [(i,) for i in lapse])

        await self._run(self._transaction, work)

    async def mqtt_retained(self) -> list[dict[str, Any]]:
        def query() -> list[dict[str, Any]]:
            rows = self.db.execute(
                f"SELECT payload FROM outbox WHERE id IN ({_NEWEST_RETAINED}) ORDER BY id").fetchall()
            return [json.loads(payload) for (payload,) in rows]

        return await self._run(query)

    async def silence_add(self, scope: str, scope_id: str, ends_at: datetime, reason: str, by: str,
                          now: datetime, discard: bool = False) -> int:
        def work() -> int:
            return int(self.db.execute(
                "INSERT INTO silences (scope, scope_id, ends_at, reason, created_by, created_at, discard)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (scope, scope_id, ends_at.timestamp(), reason, by, now.timestamp(), discard),
            ).lastrowid or 0)

        return await self._run(self._transaction, work)

    async def silence_remove(self, silence_id: int) -> bool:
        def work() -> bool:
            return self.db.execute("UPDATE silences SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                                   (datetime.now(UTC).timestamp(), silence_id)).rowcount > 0

        return await self._run(self._transaction, work)

    async def silences(self, now: datetime) -> list[Silence]:
        def query() -> list[Silence]:
            rows = self.db.execute(
                "SELECT id, scope, scope_id, ends_at, reason, created_by, created_at, discard FROM silences"
                " WHERE removed_at IS NULL AND ends_at > ? ORDER BY id", (now.timestamp(),)).fetchall()
            return [Silence(r[0], r[1], r[2], _dt(r[3]), r[4], r[5], _dt(r[6]), bool(r[7])) for r in rows]

        return await self._run(query)

    async def load_states(self, target_ids: Sequence[str] | None = None) -> dict[str, TargetState]:
        """Each target's (or only these targets') resumable state: its last and last good observation and
        current verdict."""
        return await self._run(self._load_states, target_ids)

    def _load_states(self, target_ids: Sequence[str] | None) -> dict[str, TargetState]:
        query = ("SELECT target_id, state, reasons, newest_date, yellow_at, deadline, next_change, detail, "
                 "last_result, last_good_result, newest_first_seen, etag, last_modified FROM current")
        if target_ids is None:
            rows = self.db.execute(query).fetchall()
        else:
            ids = list(target_ids)
            rows = [row for start in range(0, len(ids), 500) for row in self.db.execute(
                f"{query} WHERE target_id IN ({','.join('?' * len(ids[start:start + 500]))})", ids[start:start + 500])]
        states = {}
        for (tid, state, reasons, newest, yellow, deadline, nxt, detail, last, good, first, etag, lm) in rows:
            latest = self._last_observation(tid, last)
            last_good = self._last_observation(tid, good) if good != last else None
            verdict = Verdict(State(state), tuple(json.loads(reasons)), _day(newest), _dt(yellow), _dt(deadline),
                              _dt(nxt), detail)
            content = latest.content_hash if latest else None
            states[tid] = TargetState(History(latest, last_good, _dt(first)), verdict, etag, lm, content)
        return states

    def _last_observation(self, target_id: str, result: int | None) -> Observation | None:
        """The target's latest probe that read ``result`` (the runs' last probes are never compacted away)."""
        if result is None:
            return None
        row = self.db.execute(
            f"SELECT p.at, p.ms, {_RESULT_COLUMNS} FROM probes AS p JOIN results AS r ON r.id = p.result"
            f" WHERE p.subject = {_SUBJECT} AND p.result = ? ORDER BY p.at DESC LIMIT 1", (target_id, result),
        ).fetchone()
        return _observation(target_id, row) if row else None

    async def verdict_history(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]:
        def query() -> list[dict[str, Any]]:
            rows = self.db.execute(
                "SELECT v.at, v.state, r.text, v.newest_date, v.deadline, d.text FROM verdicts AS v"
                " JOIN texts AS r ON r.id = v.reasons JOIN texts AS d ON d.id = v.detail"
                f" WHERE v.subject = {_SUBJECT} ORDER BY v.at DESC, v.id DESC LIMIT ?", (target_id, limit),
            )
            return [
                {"at": _dt(at), "state": state, "reasons": json.loads(reasons), "newest_date": newest,
                 "deadline": _dt(deadline), "detail": detail}
                for at, state, reasons, newest, deadline, detail in rows
            ]

        return await self._run(query)

    async def observations(self, target_id: str, limit: int = 50) -> list[dict[str, Any]]:
        def query() -> list[dict[str, Any]]:
            rows = self.db.execute(
                f"SELECT p.at, p.ms, {_RESULT_COLUMNS} FROM probes AS p JOIN results AS r ON r.id = p.result"
                f" WHERE p.subject = {_SUBJECT} ORDER BY p.at DESC LIMIT ?", (target_id, limit))
            return [
                {"at": o.at, "http_status": o.http_status, "error": o.error, "detail": o.detail,
                 "not_modified": o.not_modified, "newest_date": _iso(o.newest_date), "reason": o.reason,
                 "fetch_ms": o.fetch_ms, "item_count": row[-2], "final_url": o.final_url}
                for row in rows
                for o in (_observation(target_id, row),)
            ]

        return await self._run(query)

    async def recent_item_urls(self, target_ids: Sequence[str], limit: int) -> list[str]:
        """The newest items' URLs the probes of these targets saw (by claimed date, then first sighting)."""
        def query() -> list[str]:
            marks = ",".join("?" * len(target_ids))
            rows = self.db.execute(
                f"SELECT url FROM items WHERE subject IN (SELECT key FROM subjects WHERE name IN ({marks}))"
                f" GROUP BY url ORDER BY MAX(date) IS NULL, MAX(date) DESC, MAX(first_seen) DESC, url LIMIT ?",
                [*target_ids, limit])
            return [url for (url,) in rows]

        return await self._run(query) if target_ids and limit > 0 else []

    async def honest_history(self, target_id: str) -> tuple[list[Any], list[datetime]]:
        """What ``monitor.checks.honest`` needs of one column, bounded: the items of its current list and every item
        visible since the oldest of them appeared, the successful probes since the oldest of those, and the
        first successful probe (items seen then are never back-dated)."""
        from monitor.checks.honest import SeenItem

        good = (f"SELECT p.at FROM probes AS p JOIN results AS r ON r.id = p.result WHERE p.subject = {_SUBJECT}"
                f" AND {_GOOD}")

        def query() -> tuple[list[Any], list[datetime]]:
            rows = self.db.execute(
                "WITH k AS (SELECT key FROM subjects WHERE name = :t)"
                " SELECT url, title, date, first_seen, last_seen, prev_date, date_changed_at FROM items"
                " WHERE subject = (SELECT key FROM k) AND last_seen >= (SELECT MIN(first_seen) FROM items"
                "  WHERE subject = (SELECT key FROM k) AND last_seen = (SELECT MAX(last_seen) FROM items"
                "  WHERE subject = (SELECT key FROM k))) ORDER BY first_seen, url",
                {"t": target_id}).fetchall()
            if not rows:
                return [], []
            items = [SeenItem(url, title, _day(day), _dt(first), _dt(last), _day(prev), _dt(changed))
                     for url, title, day, first, last, prev, changed in rows]
            first = self.db.execute(f"{good} ORDER BY p.at LIMIT 1", (target_id,)).fetchone()
            since = min(r[3] for r in rows)
            probes = self.db.execute(f"{good} AND p.at >= ? ORDER BY p.at", (target_id, since)).fetchall()
            times = ([first[0]] if first and first[0] < since else []) + [at for (at,) in probes]
            return items, [datetime.fromtimestamp(at, UTC) for at in times]

        return await self._run(query)

    async def column_items(self, target_id: str, since: date) -> list[Any]:
        """A column's stored items dated since ``since`` (undated ones: first seen since), as
        ``monitor.checks.honest.SeenItem``, oldest sighting first."""
        from monitor.checks.honest import SeenItem
        from monitor.evaluate import start_of_day

        def query() -> list[Any]:
            rows = self.db.execute(
                f"SELECT url, title, date, first_seen, last_seen FROM items WHERE subject = {_SUBJECT}"
                " AND (date >= ? OR (date IS NULL AND first_seen >= ?)) ORDER BY first_seen",
                (target_id, since.isoformat(), start_of_day(since).timestamp()))
            return [SeenItem(url, title, _day(day), _dt(first), _dt(last)) for url, title, day, first, last in rows]

        return await self._run(query)

    async def save_messages(self, box_id: str, messages: Sequence[Any], at: datetime) -> None:
        """Replace a message box's stored messages (``monitor.extract.message_box.Message``) with those just read."""
        rows = [(box_id, seq, m.title, m.url, m.asked.isoformat(), _iso(m.answered), str(m.status), m.status_text,
                 at.timestamp()) for seq, m in enumerate(messages)]

        def work() -> None:
            self.db.execute("DELETE FROM messages WHERE box_id = ?", (box_id,))
            self.db.executemany("INSERT INTO messages (box_id, seq, title, url, asked, answered, status, status_text,"
                                " read_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

        await self._run(self._transaction, work)

    async def load_messages(self) -> dict[str, tuple[datetime, list[Any]]]:
        """Per message box, when it was last read and its messages then, in page order."""
        from monitor.extract.message_box import Message, MessageStatus

        def query() -> dict[str, tuple[datetime, list[Any]]]:
            boxes: dict[str, tuple[datetime, list[Any]]] = {}
            rows = self.db.execute("SELECT box_id, title, url, asked, answered, status, status_text, read_at"
                                   " FROM messages ORDER BY box_id, seq")
            for box_id, title, url, asked, answered, status, status_text, read_at in rows:
                _, messages = boxes.setdefault(box_id, (_dt(read_at), []))
                messages.append(Message(title, url, date.fromisoformat(asked), _day(answered), MessageStatus(status),
                                        status_text))
            return boxes

        return await self._run(query)

    # ------------------------------------------------------------ the quarterly report's history

    async def report_targets(self, start: datetime, end: datetime) -> list[TargetInfo]:
        """Columns, homepages and accounts watched in [start, end): active ones, and those with a verdict then;
        by unit, site, kind (columns, then homepages, then accounts) and id."""
        def query() -> list[TargetInfo]:
            rows = self.db.execute(
                "SELECT id, kind, name, url, site_id, site_name, unit_id, unit_name, category FROM targets"
                " WHERE kind IN ('column', 'homepage', 'account') AND (active = 1 OR id IN"
                " (SELECT s.name FROM verdicts AS v JOIN subjects AS s ON s.key = v.subject"
                "  WHERE v.at >= ? AND v.at < ?)) ORDER BY unit_id, site_id, kind DESC, id",
                (start.timestamp(), end.timestamp()))
            return [TargetInfo(*row) for row in rows]

        return await self._run(query)

    async def verdicts_before(self, end: datetime) -> list[VerdictRow]:
        """Every stored verdict change before ``end``, oldest first."""
        def query() -> list[VerdictRow]:
            rows = self.db.execute("SELECT s.name, v.at, v.state, v.newest_date, v.deadline, r.text FROM verdicts AS v"
                                   " JOIN subjects AS s ON s.key = v.subject JOIN texts AS r ON r.id = v.reasons"
                                   " WHERE v.at < ? ORDER BY v.at, v.id", (end.timestamp(),))
            return [VerdictRow(tid, _dt(at), State(state), _day(newest), _dt(deadline), tuple(json.loads(reasons)))
                    for tid, at, state, newest, deadline, reasons in rows]

        return await self._run(query)

    async def finding_trails(self, checks: Sequence[str], before: datetime) -> list[FindingEvent]:
        """The trails (events before ``before``) of the findings of these checks that no operator marked a false
        positive, finding by finding, each oldest event first."""
        def query() -> list[FindingEvent]:
            marks = ",".join("?" * len(checks))
            rows = self.db.execute(
                "SELECT f.uid, f.check_name, f.subject, f.key, f.site_id, f.title, f.detail, e.at, e.event, e.severity"
                " FROM findings AS f JOIN finding_events AS e USING (uid)"
                f" WHERE f.check_name IN ({marks}) AND f.status != 'false_positive' AND e.at < ? ORDER BY f.uid, e.id",
                (*checks, before.timestamp()))
            return [FindingEvent(uid, check, subject, key, site_id, title, detail, _dt(at), event, State(severity))
                    for uid, check, subject, key, site_id, title, detail, at, event, severity in rows]

        return await self._run(query) if checks else []

    # ---------------------------------------------------------------- retention: compaction and backup

    async def compact(self, before: datetime, availability_before: datetime | None = None) -> int:
        """Reduce the column probes made before ``before``, and the availability probes made before
        ``availability_before`` (default: the same), to the ends of their runs of identical results; drop the MQTT
        copies sent before ``before`` but the newest retained one per topic (the verdict changes and finding events
        they carried stay; a broker that lost its retained messages is given those again); then give the
        freed pages back to the file system. Returns how many probes went.

        Kept as they are: verdict changes, items with their first sighting, findings with their trail and the
        notifications' trail. The work goes in short transactions (``COMPACT_SUBJECTS`` subjects, at most
        ``COMPACT_SPAN_S`` of their probes), each its own turn on the store's thread, so writes go between them.
        With less than ``COMPACT_ROOM`` free beside the store it is put off (NoRoom); so is the one-time VACUUM of
        a file from before incremental vacuum, which goes first once there is room for it.
        """
        if (free := await self._run(self._free)) < COMPACT_ROOM:
            raise NoRoom("compaction", COMPACT_ROOM, free)
        if self._unconverted:
            try:
                await self._run(self._convert)
            except NoRoom as exc:
                log.warning("vacuum_deferred", store=str(self.path), need_bytes=exc.need, free_bytes=exc.free)
        subjects = await self._run(lambda: [key for (key,) in self.db.execute("SELECT key FROM subjects ORDER BY key")])
        removed = 0
        for table, until in (("probes", before), ("health_probes", availability_before or before)):
            since = await self._run(self._compacted_before, table)
            while since < until.timestamp():
                upto = min(until.timestamp(), since + COMPACT_SPAN_S)
                for first in range(0, len(subjects), COMPACT_SUBJECTS):
                    chunk = subjects[first:first + COMPACT_SUBJECTS]
                    removed += await self._run(self._transaction, self._compact, table, chunk, since, upto)
                await self._run(self._transaction, self._compacted, table, upto)
                since = upto
        await self._run(self._transaction, lambda: self.db.execute(
            "DELETE FROM outbox WHERE channel = 'mqtt' AND status = 'sent' AND created_at < ?"
            f" AND id NOT IN ({_NEWEST_RETAINED})", (before.timestamp(),)))
        while await self._run(self._vacuum_step):
            pass
        return removed

    def _compacted_before(self, table: str) -> float:
        """Where the last compaction of ``table`` stopped (first time: its oldest probe)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (f"compacted_before:{table}",)).fetchone()
        if row:
            return float(row[0])
        oldest = self.db.execute(f"SELECT MIN(at) FROM {table}").fetchone()[0]
        return math.inf if oldest is None else float(oldest)

    def _compact(self, table: str, subjects: Sequence[int], since: float, upto: float) -> int:
        same = _RUN_IDENTITY[table]
        columns = ", ".join(same)
        middle = (f"({columns}) IS ({', '.join(f'LAG({c}) OVER w' for c in same)}) AND"
                  f" ({columns}) IS ({', '.join(f'LEAD({c}) OVER w' for c in same)})")
        # A probe is the middle of a run when the probes before and after it read the same; the window reaches
        # one probe beyond each end of [since, upto) so runs crossing either end are seen whole.
        statement = f"""DELETE FROM {table} WHERE subject = :s AND at IN (
            SELECT at FROM (
                SELECT at, {middle} AS middle FROM {table}
                WHERE subject = :s
                  AND at >= COALESCE((SELECT MAX(at) FROM {table} WHERE subject = :s AND at < :since), :since)
                  AND at <= COALESCE((SELECT MIN(at) FROM {table} WHERE subject = :s AND at >= :upto), :upto)
                WINDOW w AS (ORDER BY at))
            WHERE middle AND at >= :since AND at < :upto)"""
        return sum(self.db.execute(statement, {"s": subject, "since": since, "upto": upto}).rowcount
                   for subject in subjects)

    def _compacted(self, table: str, upto: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (f"compacted_before:{table}", upto))

    def _vacuum_step(self) -> bool:
        """Give up to 1,000 free pages back (a short transaction of its own); True while more could go."""
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        if not free:
            return False
        self.db.executescript("PRAGMA incremental_vacuum(1000)")  # stepped to its end, which execute() does not do
        left = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return 0 < left < free

    async def backup(self, to: Path) -> None:
        """A consistent copy of the store at ``to``, made while the daemon writes, checked with ``PRAGMA
        integrity_check`` and renamed into place only then. SQLite's online backup API copies one read snapshot
        in a single step; in WAL mode writers go on meanwhile. The copy is one self-contained file."""
        partial = to.with_name(f".{to.name}.partial")

        def work() -> None:
            partial.unlink(missing_ok=True)
            try:
                with contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as copy:
                    self.db.backup(copy)
                    copy.execute("PRAGMA journal_mode=DELETE")
                    problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise sqlite3.DatabaseError(f"the copy failed its integrity check: {'; '.join(problems[:5])}")
                partial.replace(to)
            finally:
                partial.unlink(missing_ok=True)

        await self._run(work)


_FINDING_COLUMNS = ("check_name, subject, key, severity, title, unit_id, site_id, url, detail, evidence, status,"
                    " first_seen, changed_at")


def _known(row: Sequence[Any]) -> Known:
    check, subject, key, severity, title, unit_id, site_id, url, detail, evidence, status, first, changed = row
    finding = Finding(check, subject, key, State(severity), title, unit_id, site_id, url, detail, json.loads(evidence))
    return Known(finding, Status(status), _dt(first), _dt(changed))


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
        target_id=target_id, at=datetime.fromtimestamp(at, UTC), fetch_ms=float(ms), http_status=status,
        error=FetchError(error) if error else None, detail=detail, not_modified=bool(not_modified),
        newest_date=_day(newest), reason=EmptyReason(reason) if reason else None, signature=signature,
        content_hash=content_hash, final_url=final_url,
    )
