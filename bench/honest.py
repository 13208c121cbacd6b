"""Cost of one honest-dates run per column: the store read (``honest_history``) and the pure findings.

    python bench/honest.py --columns 200

Each column has a year of stored history: a successful probe every 3 hours (2,920 observations) and an
item a day (365 items, 20 on the list at a time). Prints a human summary, then the figures as one JSON
object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.checks.honest import findings
from monitor.evaluate import History, advance, evaluate
from monitor.model import Item, Observation, Target
from monitor.records import ProbeRecord
from monitor.rules import DEFAULT_RULES
from monitor.store.sqlite import SQLiteStore

START = 1.7e9  # unix seconds
PROBE_EVERY_S = 3 * 3600
DAYS = 365
LISTED = 20


async def run(columns: int, folder: Path) -> dict[str, float]:
    path = folder / "honest.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    rule = DEFAULT_RULES["动态要闻"]
    for c in range(columns):  # through the store's write path: a new item each day, the list read every 3 hours
        target_id, history, verdict, records = f"c{c}", History(), None, []
        for k in range(DAYS * 86400 // PROBE_EVERY_S):
            at = datetime.fromtimestamp(START + k * PROBE_EVERY_S, UTC)
            day = k * PROBE_EVERY_S // 86400
            listed = tuple(Item("标题", f"http://127.0.0.1/{c}/{n}.html", (datetime.fromtimestamp(START, UTC)
                                + timedelta(days=n)).date()) for n in range(day, max(day - LISTED, -1), -1))
            obs = Observation(target_id, at, 5.0, 200, newest_date=listed[0].date, content_hash=f"{day}", items=listed)
            history, previous = advance(history, obs), verdict
            verdict = evaluate(rule, history, at)
            records.append(ProbeRecord(obs, verdict, not verdict.same_as(previous), history.newest_first_seen,
                                       items_changed=k * PROBE_EVERY_S % 86400 == 0))
        await store.write(records)
    await store.close()
    store = SQLiteStore(path)
    await store.open()
    rule = DEFAULT_RULES["动态要闻"]
    read = pure = 0.0
    try:
        for c in range(columns):
            target = Target(f"c{c}", "column", "工作动态", "http://127.0.0.1/", "s1", "测试网站", "u1", "测试单位",
                            rule)
            t0 = time.perf_counter()
            items, probes = await store.honest_history(target.id)
            t1 = time.perf_counter()
            findings(target, items, probes)
            read, pure = read + t1 - t0, pure + time.perf_counter() - t1
    finally:
        await store.close()
    return {"columns": columns, "items_read": len(items), "probes_read": len(probes),
            "read_ms_per_column": round(read / columns * 1000, 3),
            "pure_ms_per_column": round(pure / columns * 1000, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govwatch-honest-") as folder:
        figures = asyncio.run(run(args.columns, Path(folder)))
    per = figures["read_ms_per_column"] + figures["pure_ms_per_column"]
    print(f"{figures['columns']} columns with a year of history: {per:.2f} ms per column and run "
          f"(store {figures['read_ms_per_column']} ms, findings {figures['pure_ms_per_column']} ms; "
          f"{figures['items_read']} items and {figures['probes_read']} probes read of 365 and 2920)")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
