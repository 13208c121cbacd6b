"""The calendar alert: next year's holidays missing from 1 December, for the supervising office."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from monitor import config
from monitor.checks.calendar import calendar_finding, missing_year
from monitor.evaluate import TZ
from monitor.model import State
from monitor.service import monitoring
from monitor.workdays import ENV_OVERRIDES, WorkCalendar
from tests.conftest import Endpoint

OVERRIDE_2027 = "2027:\n  holidays: [2027-01-01, 2027-02-06..2027-02-12]\n  workdays: [2027-02-14]\n"


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def test_chinesecalendar_installed_does_not_know_2027() -> None:
    # the premise of the alert this December: the installed package stops at 2026
    calendar = WorkCalendar(None)
    assert calendar.knows(2026) and not calendar.knows(2027)


def test_from_1_december_in_shanghai(tmp_path: Path) -> None:
    knows = WorkCalendar(None).knows
    assert missing_year(shanghai(2026, 11, 30, 23, 59), knows) is None
    assert missing_year(shanghai(2026, 12, 1, 0, 0), knows) == 2027
    # 16:00 UTC on 30 November is already 1 December in Asia/Shanghai
    assert missing_year(datetime(2026, 11, 30, 15, 59, tzinfo=UTC), knows) is None
    assert missing_year(datetime(2026, 11, 30, 16, 0, tzinfo=UTC), knows) == 2027
    # still missing in January: the current year is needed
    assert missing_year(shanghai(2027, 1, 4, 9), knows) == 2027
    # an old year the package knows, in its December, with the next known too
    assert missing_year(shanghai(2025, 12, 15), knows) is None


def test_the_override_file_makes_a_year_known(tmp_path: Path) -> None:
    overrides = tmp_path / "calendar_overrides.yaml"
    overrides.write_text(OVERRIDE_2027, encoding="utf-8")
    knows = WorkCalendar(overrides).knows
    assert knows(2027) and not knows(2028)
    assert missing_year(shanghai(2026, 12, 1), knows) is None
    assert missing_year(shanghai(2027, 12, 1), knows) == 2028


def test_the_finding() -> None:
    found = calendar_finding(shanghai(2026, 12, 1, 8), WorkCalendar(None).knows, "zwgkb", Path("/etc/x.yaml"))
    assert found is not None
    assert (found.check, found.subject, found.key, found.severity, found.unit_id) == (
        "calendar", "govwatch", "2027", State.RED, "zwgkb")
    assert found.title == "缺少 2027 年节假日安排，请更新 chinesecalendar 或 calendar_overrides.yaml"
    assert "国务院办公厅关于2027年部分节假日安排的通知" in found.detail and "/etc/x.yaml" in found.detail
    assert calendar_finding(shanghai(2026, 11, 30, 8), WorkCalendar(None).knows, "zwgkb", Path("/x")) is None


async def test_daemon_routes_it_to_the_supervising_office(
    tmp_path: Path, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch,
) -> None:
    overrides = tmp_path / "calendar_overrides.yaml"
    monkeypatch.setenv(ENV_OVERRIDES, str(overrides))
    data = {
        "settings": {"store": str(tmp_path / "govwatch.sqlite3"), "alerts": {"supervisor": "zwgkb"}},
        "units": [{"id": "zwgkb", "name": "县政务公开办", "receivers": [
                      {"id": "chat", "url": endpoint.url("json", "office")}]},
                  {"id": "u1", "name": "县教育局", "receivers": [{"id": "chat", "url": endpoint.url("json", "u1")}]}],
        "sites": [],
    }
    YAML().dump(data, tmp_path / "inv.yaml")
    inventory = config.load(tmp_path / "inv.yaml")
    async with monitoring(inventory) as monitor:
        monitor.clock = lambda: shanghai(2026, 11, 30, 9)
        await monitor.check_once()
        assert monitor.findings.get(("calendar", "govwatch"), {}) == {}
        monitor.clock = lambda: shanghai(2026, 12, 1, 9)
        await monitor.check_once()
        (known,) = monitor.findings[("calendar", "govwatch")].values()
        assert known.finding.unit_id == "zwgkb" and known.finding.severity is State.RED
        (item,) = await monitor.store.outbox_list()  # to the office's receiver only, none to 县教育局
        assert (item["channel"], item["status"]) == ("zwgkb/chat", "pending")
        assert item["payload"]["unit"] == "县政务公开办" and "缺少 2027 年节假日安排" in item["payload"]["column"]
        # an office writes 2027 into the override file: the next daily run clears it, no restart
        overrides.write_text(OVERRIDE_2027, encoding="utf-8")
        monitor.clock = lambda: shanghai(2026, 12, 2, 9)
        await monitor.check_once()
        (known,) = monitor.findings[("calendar", "govwatch")].values()
        assert str(known.status) == "gone"
