"""The daemon's journal shows life: one line per verdict change and per finding change, a summary every
``settings.log_summary`` (probes, failures, targets per state, outbox pending), never a line per probe. Run for
real: ``govwatch run`` in a subprocess against pages on 127.0.0.1, its stderr read line by line."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from monitor import config
from monitor.evaluate import TZ, History, Reason, Verdict, evaluate
from monitor.journal import Tally, summary
from monitor.model import FetchError, Observation, State, Target
from monitor.rules import DEFAULT_RULES
from tests.conftest import PageServer, list_page

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
SUMMARY_KEYS = {"period_s", "probes", "failures", "failures_by", "verdict_changes", "first_verdicts",
                "finding_changes", "targets", "red", "yellow", "green", "unknown", "outbox_pending"}


def test_summary_counts_what_happened_since_the_last_one() -> None:
    target = Target.__new__(Target)  # the tally never reads the target
    tally = Tally(since=NOW)
    ok = Observation("c1", NOW, 12.0, 200)
    failed = Observation("c2", NOW, 15000.0, error=FetchError.TIMEOUT, detail="timeout after 15 s")
    refused = Observation("c3", NOW, 1.0, error=FetchError.CONNECT, detail="connection refused")
    for obs in (ok, ok, failed, failed, refused):
        tally.probed(target, obs)
    rule = DEFAULT_RULES["动态要闻"]
    not_probed = evaluate(rule, History(), NOW)
    assert not_probed.reasons == (Reason.NOT_PROBED,)
    green = Verdict(State.GREEN, (Reason.FRESH,))
    tally.verdict(target, green, not_probed)  # a first verdict
    tally.verdict(target, green, None)  # a first verdict too (a new target)
    tally.verdict(target, Verdict(State.RED, (Reason.STALE,)), green)  # a change
    tally.findings([object(), object()])  # type: ignore[list-item]
    states = [State.RED, State.GREEN, State.GREEN, State.UNKNOWN]
    line = summary(tally, states, 4, NOW + timedelta(minutes=10))
    assert line == {"period_s": 600, "probes": 5, "failures": 3, "failures_by": {"connect": 1, "timeout": 2},
                    "verdict_changes": 1, "first_verdicts": 2, "finding_changes": 2, "targets": 4, "red": 1,
                    "yellow": 0, "green": 2, "unknown": 1, "outbox_pending": 4}
    tally.restart(NOW + timedelta(minutes=10))
    assert summary(tally, [], 0, NOW + timedelta(minutes=20)) == {
        **dict.fromkeys(SUMMARY_KEYS, 0), "period_s": 600, "failures_by": {}}


@pytest.mark.parametrize("value, ok", [("10min", True), ("5s", True), ("1d", True), ("4s", False), ("2d", False),
                                       ("1mo", False), ("often", False)])
def test_summary_interval_has_a_sane_range(tmp_path: Path, value: str, ok: bool) -> None:
    path = tmp_path / "inv.yaml"
    YAML().dump({"settings": {"log_summary": value}}, path)
    if ok:
        assert config.load(path).settings.log_summary.seconds > 0
    else:
        with pytest.raises(config.ConfigError) as err:
            config.load(path)
        assert "log_summary" in str(err.value.problems[0])


async def test_a_running_daemon_logs_changes_and_summaries_never_probes(tmp_path: Path,
                                                                        page_server: PageServer) -> None:
    today = datetime.now(TZ).date()
    items = [(f"关于做好第{i}项重点工作的通知", (today - timedelta(days=2 * i)).isoformat()) for i in range(15)]
    page_server.set("/fresh/", list_page(items))
    page_server.set("/gone/", "oops", status=503)
    page_server.set("/home/", "down for maintenance", status=503)
    columns = [
        # green at its first probe (no line), yellow after 2 s, red after 4 s: two lines, from the timers
        {"id": "ages", "name": "工作动态", "url": page_server.url("/fresh/"), "category": "动态要闻",
         "deadline": "4s", "lead": "2s", "interval": "1h"},
        # probed every second or so: many probes, not one line each
        *({"id": f"busy{i}", "name": f"乡镇动态{i}", "url": page_server.url("/fresh/"), "category": "动态要闻",
           "interval": "1s"} for i in range(4)),
        {"id": "gone", "name": "通知公告", "url": page_server.url("/gone/"), "category": "通知公告",
         "interval": "1s"},
    ]
    inv = tmp_path / "inv.yaml"
    YAML().dump({
        "settings": {"store": str(tmp_path / "g.sqlite3"), "listen": "127.0.0.1:0", "extract_workers": 0,
                     "log_summary": "5s", "checks": ["availability"], "jitter": 0,
                     "fetch": {"timeout": "5s", "per_host_interval": "0s", "per_host_concurrency": 8},
                     "availability": {"interval": "1s", "window": "1h", "down_after": 1}},
        "units": [{"id": "u1", "name": "测试县人民政府办公室"}],
        "sites": [{"id": "s1", "name": "测试县人民政府网站", "unit": "u1", "homepage": page_server.url("/home/"),
                   "check_homepage": False, "columns": columns}],
    }, inv)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "monitor.cli", "run", "--config", str(inv),
                                                stderr=asyncio.subprocess.PIPE)
    lines: list[dict] = []
    try:
        async with asyncio.timeout(60):
            while sum(1 for line in lines if line["event"] == "summary") < 2:
                raw = await proc.stderr.readline()
                assert raw, b"".join(json.dumps(line).encode() + b"\n" for line in lines)
                lines.append(json.loads(raw))
    finally:
        proc.terminate()
        _, rest = await proc.communicate()
    assert proc.returncode == 0 and b'"stopped"' in rest, rest
    events = [line["event"] for line in lines]
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    assert events[0] == "started", text

    changes = [line for line in lines if line["event"] == "verdict_changed"]
    assert [(c["target"], c["was"], c["state"]) for c in changes] == [("ages", "green", "yellow"),
                                                                      ("ages", "yellow", "red")], text
    assert changes[0]["column"] == "工作动态" and changes[1]["reasons"] == ["stale"]
    found = [line for line in lines if line["event"] == "finding_found"]
    assert [f["check"] for f in found] == ["availability"] and found[0]["subject"] == "s1", text

    first, second = (line for line in lines if line["event"] == "summary")
    assert set(first) >= SUMMARY_KEYS
    # the first summary: every first probe and verdict; the failing column's probes counted as failures
    assert first["first_verdicts"] == 6 and first["probes"] >= 6 + 4 and first["failures"] >= 1, first
    assert first["failures_by"] == {"http_status": first["failures"]}
    assert (first["targets"], first["unknown"]) == (6, 1)
    assert first["outbox_pending"] >= 0
    assert 5 <= first["period_s"] <= 7 and 5 <= second["period_s"] <= 7
    # the second counts afresh: no first verdicts again, probes of the last five seconds only
    assert second["first_verdicts"] == 0 and second["probes"] >= 5, second
    assert first["verdict_changes"] + second["verdict_changes"] == 2
    assert first["finding_changes"] + second["finding_changes"] == 1
    assert (second["red"], second["green"], second["unknown"]) == (1, 4, 1), second

    # Never a line per probe: dozens of probes, and no line names a target but its verdict changes.
    probes = first["probes"] + second["probes"]
    assert probes >= 20 and len(lines) < probes / 2, text
    naming = [line for line in lines if "target" in line and line["event"] != "verdict_changed"]
    assert naming == [], text
