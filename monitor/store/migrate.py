"""Moving up: a SQLite store's whole history copied into an empty PostgreSQL store (``govwatch migrate``).

The SQLite file is first brought to its latest version, then every table is copied row for row with its numbers
(subjects, results, texts, verdicts, outbox items, silences, finding events keep their ids) in one PostgreSQL
transaction — a copy that fails leaves the database as it was — and the sequences are moved past the copied
ids. Times (unix seconds there) become ``timestamptz``, ISO dates ``date``, 0/1 booleans.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from monitor.store.postgres import PostgresStore
from monitor.store.sqlite import SQLiteStore

CHUNK = 10_000


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _same(value: Any) -> Any:
    return value


Convert = Callable[[Any], Any]
T, D, B, S = _ts, _day, _bool, _same
# table → (column, conversion) in the order both stores define them; ``current.written_at`` is set at the copy
TABLES: tuple[tuple[str, tuple[tuple[str, Convert], ...], str | None], ...] = (
    ("targets", (("id", S), ("kind", S), ("name", S), ("url", S), ("site_id", S), ("site_name", S), ("unit_id", S),
                 ("unit_name", S), ("category", S), ("active", B), ("updated_at", T)), None),
    ("subjects", (("key", S), ("name", S)), "key"),
    ("results", (("id", S), ("http_status", S), ("error", S), ("detail", S), ("not_modified", B),
                 ("newest_date", D), ("reason", S), ("signature", S), ("content_hash", S), ("item_count", S),
                 ("final_url", S)), "id"),
    ("probes", (("subject", S), ("at", T), ("ms", S), ("result", S)), None),
    ("health_probes", (("subject", S), ("at", T), ("ok", B), ("status", S), ("error", S), ("ms", S)), None),
    ("items", (("subject", S), ("url", S), ("title", S), ("date", D), ("first_seen", T), ("last_seen", T),
               ("prev_date", D), ("date_changed_at", T)), None),
    ("texts", (("id", S), ("text", S)), "id"),
    ("verdicts", (("id", S), ("subject", S), ("at", T), ("state", S), ("reasons", S), ("newest_date", D),
                  ("deadline", T), ("detail", S)), "id"),
    ("current", (("target_id", S), ("state", S), ("reasons", S), ("newest_date", D), ("yellow_at", T),
                 ("deadline", T), ("next_change", T), ("detail", S), ("since", T), ("last_result", S),
                 ("last_good_result", S), ("newest_first_seen", T), ("etag", S), ("last_modified", S)), None),
    ("outbox", (("id", S), ("key", S), ("channel", S), ("created_at", T), ("not_before", T), ("payload", S),
                ("status", S), ("reason", S), ("target_id", S), ("attempts", S), ("last_error", S),
                ("next_attempt_at", T), ("sent_at", T)), "id"),
    ("silences", (("id", S), ("scope", S), ("scope_id", S), ("ends_at", T), ("reason", S), ("created_by", S),
                  ("created_at", T), ("removed_at", T), ("discard", B)), "id"),
    ("findings", (("uid", S), ("check_name", S), ("subject", S), ("key", S), ("unit_id", S), ("site_id", S),
                  ("severity", S), ("status", S), ("title", S), ("detail", S), ("url", S), ("evidence", S),
                  ("first_seen", T), ("changed_at", T)), None),
    ("finding_events", (("id", S), ("uid", S), ("at", T), ("event", S), ("severity", S), ("actor", S),
                        ("note", S)), "id"),
    ("messages", (("box_id", S), ("seq", S), ("title", S), ("url", S), ("asked", D), ("answered", D),
                  ("status", S), ("status_text", S), ("read_at", T)), None),
    ("check_runs", (("subject", S), ("check_name", S), ("at", T)), None),
)


class NotEmpty(Exception):
    """The PostgreSQL store already holds a history: a copy would mix two."""


def _rows(db: sqlite3.Connection, table: str, columns: tuple[tuple[str, Convert], ...]) -> Iterator[list[tuple]]:
    cursor = db.execute(f"SELECT {', '.join(c for c, _ in columns)} FROM {table}")
    while chunk := cursor.fetchmany(CHUNK):
        yield [tuple(convert(v) for (_, convert), v in zip(columns, row, strict=True)) for row in chunk]


async def copy_sqlite_to_postgres(source: Path, target: str,
                                  progress: Callable[[str, int], None] = lambda table, rows: None) -> dict[str, int]:
    """Copy the SQLite store at ``source`` into the empty PostgreSQL store at ``target``; rows copied per table."""
    if not source.is_file():
        raise FileNotFoundError(f"no SQLite store at {source}")
    sqlite_store = SQLiteStore(source)
    await sqlite_store.open()  # its latest version, as the daemon would leave it
    await sqlite_store.close()
    postgres = PostgresStore(target)
    await postgres.open()
    copied: dict[str, int] = {}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db:
            async def work(conn: Any) -> None:
                if await conn.fetchval("SELECT EXISTS (SELECT FROM targets) OR EXISTS (SELECT FROM outbox)"):
                    raise NotEmpty(f"目标数据库已有监测数据，不能再迁入 — the PostgreSQL store {postgres} already "
                                   "holds a history; migrate into an empty database")
                for table, columns, serial in TABLES:
                    names = [c for c, _ in columns]
                    count = 0
                    for chunk in _rows(db, table, columns):
                        if table == "current":
                            chunk = [(*row, datetime.now(UTC)) for row in chunk]
                        await conn.copy_records_to_table(
                            table, records=chunk, columns=names + (["written_at"] if table == "current" else []))
                        count += len(chunk)
                        progress(table, count)
                    if serial is not None:
                        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{serial}'),"
                                           f" GREATEST((SELECT MAX({serial}) FROM {table}), 1))")
                    copied[table] = count
                for key, value in db.execute("SELECT key, value FROM meta"):
                    stored = _ts(float(value)).isoformat() if key.startswith("compacted_before:") else str(value)
                    await conn.execute("INSERT INTO meta (key, value) VALUES ($1, $2)", key, stored)

            await postgres.run(work)
    finally:
        await postgres.close()
    return copied
