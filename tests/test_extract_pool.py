"""The parser pool under faults: workers that die are replaced, and workers that keep dying never stall it."""

from __future__ import annotations

import os
import signal
from datetime import date
from pathlib import Path

from monitor.extract_pool import MAX_DEATHS, ExtractPool
from tests.conftest import list_page

TODAY = date(2026, 11, 25)
PAGE = list_page([("关于做好冬季安全生产工作的通知", "2026-11-20"), ("县政府召开常务会议", "2026-11-18")] * 6)
FIXTURE = (Path(__file__).parent / "fixtures" / "pages" / "01_trs_ul_span.html").read_text(encoding="utf-8")


def kill(pool: ExtractPool) -> None:
    """SIGKILL every worker process, as the OOM killer or an operator would."""
    for worker in pool.workers:
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(timeout=5)


async def test_dead_idle_workers_are_replaced_and_the_page_is_still_read() -> None:
    pool = ExtractPool(workers=2)
    try:
        assert (await pool.extract(PAGE, "http://127.0.0.1/a/", TODAY, None)).newest_date == date(2026, 11, 20)
        kill(pool)
        result = await pool.extract(FIXTURE, "http://127.0.0.1:8080/trs/tzgg/index.html", TODAY, None)
        assert result.newest_date == date(2026, 11, 20)
        assert pool.size == 2 and len(pool.workers) == 2 and all(w.process.is_alive() for w in pool.workers)
    finally:
        pool.close()


async def test_workers_that_keep_dying_fall_back_to_inline_parsing() -> None:
    pool = ExtractPool(workers=1)
    try:
        for _ in range(MAX_DEATHS):
            kill(pool)
            result = await pool.extract(PAGE, "http://127.0.0.1/a/", TODAY, None)
            assert result.newest_date == date(2026, 11, 20)  # every page still read
        assert pool.size == 0 and pool.workers == []  # degraded: no respawn loop
        assert (await pool.extract(PAGE, "http://127.0.0.1/a/", TODAY, None)).newest_date == date(2026, 11, 20)
    finally:
        pool.close()
