"""What a cluster daemon's look at the others' verdicts costs (``PostgresStore.fleet_changes``, every heartbeat).

    python bench/fleet_read.py --store postgresql://postgres@127.0.0.1:5432/govwatch --columns 30000 --changed 100

In a schema of its own (dropped after): ``--columns`` current rows written through the real write path, then the
first look (every row, as after a daemon's start), then ``--changed`` rows written again and the look after it,
timed 20 times. Prints the plan of that look, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.evaluate import Verdict
from monitor.model import State
from monitor.records import VerdictRecord
from monitor.store.postgres import PostgresStore

BATCH = 1000


def records(first: int, last: int, state: State) -> list[VerdictRecord]:
    return [VerdictRecord(f"c{i}", datetime.now(UTC), Verdict(state, (str(state),), detail=f"c{i}"))
            for i in range(first, last)]


async def main(url: str, columns: int, changed: int) -> dict[str, float | int]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    store = PostgresStore(f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        await store.open()
        for first in range(0, columns, BATCH):
            await store.write(records(first, min(first + BATCH, columns), State.GREEN))
        await store.run(lambda db: db.execute("ANALYZE current"))
        started = time.perf_counter()
        horizon, rows = await store.fleet_changes(0)
        first_ms = (time.perf_counter() - started) * 1000
        assert len(rows) == columns
        await store.write(records(0, changed, State.RED))
        times = []
        for _ in range(20):
            started = time.perf_counter()
            _, rows = await store.fleet_changes(horizon)
            times.append((time.perf_counter() - started) * 1000)
        plan = await store.run(lambda db: db.fetch(
            "EXPLAIN ANALYZE SELECT c.target_id FROM current AS c WHERE c.written_xid >= $1::text::xid8", str(horizon)))
        print("\n".join(row[0] for row in plan))
        return {"columns": columns, "changed": changed, "read": len(rows), "first_look_ms": round(first_ms, 1),
                "look_ms_median": round(statistics.median(times), 2), "look_ms_max": round(max(times), 2)}
    finally:
        await store.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a PostgreSQL URI (a schema is made in it and dropped)")
    parser.add_argument("--columns", type=int, default=30_000)
    parser.add_argument("--changed", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.store, args.columns, args.changed))))
