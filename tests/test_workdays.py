"""The working-day calendar on real 2026 holiday weeks, an override year, and the loud failure."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from alerts import policy
from monitor import workdays
from monitor.evaluate import TZ
from monitor.workdays import UnknownCalendarYear, WorkCalendar, load_overrides

MAKEUP_2026 = ["01-04", "02-14", "02-28", "05-09", "09-20", "10-10"]
WEEKDAYS_OFF_2026 = ["01-01", "01-02", "02-16", "02-17", "02-18", "02-19", "02-20", "02-23", "04-06", "05-01",
                     "05-04", "05-05", "06-19", "09-25", "10-01", "10-02", "10-05", "10-06", "10-07"]


def d(text: str) -> date:
    return date.fromisoformat(text if len(text) == 10 else f"2026-{text}")


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(None)


def test_2026_make_up_saturdays_and_weekday_holidays(cal: WorkCalendar) -> None:
    for day in MAKEUP_2026:
        assert d(day).weekday() >= 5 and cal.is_workday(d(day)), day
    for day in WEEKDAYS_OFF_2026:
        assert d(day).weekday() < 5 and not cal.is_workday(d(day)), day
    # every other day of 2026 is Monday-Friday
    special = {d(x) for x in MAKEUP_2026 + WEEKDAYS_OFF_2026}
    day = date(2026, 1, 1)
    while day.year == 2026:
        if day not in special:
            assert cal.is_workday(day) == (day.weekday() < 5), day
        day += timedelta(days=1)


def test_spring_festival_2026_deadlines(cal: WorkCalendar) -> None:
    # Fri 02-13 a message arrives; Sat 02-14 is a make-up working day; 02-15..02-23 off (02-23 a weekday)
    assert cal.add_workdays(d("02-13"), 1) == d("02-14")
    assert cal.add_workdays(d("02-13"), 2) == d("02-24")
    assert cal.add_workdays(d("02-13"), 5) == d("02-27")
    assert cal.add_workdays(d("02-13"), 6) == d("02-28")  # Saturday 02-28 is a make-up working day
    assert cal.workdays_between(d("02-13"), d("02-28")) == 6
    assert cal.workdays_between(d("02-28"), d("02-13")) == -6
    assert cal.add_workdays(d("02-13"), 0) == d("02-13")


def test_national_day_2026_policy_interpretation_deadline(cal: WorkCalendar) -> None:
    # a policy published Wed 09-30 is interpreted within 3 working days: 10-08, 10-09, Sat 10-10
    assert cal.add_workdays(d("09-30"), 3) == d("10-10")
    assert cal.workdays_between(d("09-30"), d("10-07")) == 0
    # Sun 09-20 is a make-up working day, Fri 09-25 (Mid-Autumn) is off
    assert cal.add_workdays(d("09-18"), 1) == d("09-20")
    assert cal.workdays_between(d("09-18"), d("09-27")) == 5  # 09-20 … 09-24
    assert not cal.is_workday(d("09-25"))
    assert cal.add_workdays(d("09-24"), 1) == d("09-28")


def test_override_year_2027(tmp_path: Path) -> None:
    path = tmp_path / "calendar_overrides.yaml"
    path.write_text("2027:\n  source: test\n  holidays: [2027-01-01, 2027-02-05..2027-02-11]\n"
                    "  workdays: [2027-02-13, '2027-02-20']\n", encoding="utf-8")
    cal = WorkCalendar(path)
    assert not cal.is_workday(date(2027, 1, 1))  # Friday off
    assert not cal.is_workday(date(2027, 2, 8))  # Monday inside the range
    assert cal.is_workday(date(2027, 2, 13))  # Saturday make-up day
    assert not cal.is_workday(date(2027, 2, 14))  # ordinary Sunday
    assert cal.add_workdays(date(2027, 2, 4), 1) == date(2027, 2, 12)
    assert cal.add_workdays(date(2027, 2, 4), 2) == date(2027, 2, 13)
    # a year only the package knows still comes from the package
    assert cal.is_workday(date(2026, 2, 14))
    with pytest.raises(UnknownCalendarYear, match="2028"):
        cal.is_workday(date(2028, 3, 1))


def test_bad_override_entries_are_named(tmp_path: Path) -> None:
    path = tmp_path / "o.yaml"
    path.write_text("2027:\n  holidays: [2026-12-31]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a range inside 2027"):
        load_overrides(path)
    path.write_text("2027:\n  holiday: [2027-01-01]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        load_overrides(path)
    assert load_overrides(tmp_path / "missing.yaml") == {}


def test_shipped_override_file_loads() -> None:
    shipped = Path(__file__).resolve().parents[1] / "deploy" / "calendar_overrides.yaml"
    assert load_overrides(shipped) == {}


def test_unknown_year_fails_loudly_with_the_fix(tmp_path: Path) -> None:
    cal = WorkCalendar(tmp_path / "calendar_overrides.yaml")
    with pytest.raises(UnknownCalendarYear) as info:
        cal.add_workdays(date(2026, 12, 30), 5)
    assert info.value.year == 2027
    message = str(info.value)
    assert "2027" in message and "calendar_overrides.yaml" in message and "节假日安排" in message


def test_reminder_falls_back_to_weekdays_for_an_unknown_year(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.setattr(workdays, "default_calendar", lambda: WorkCalendar(tmp_path / "none.yaml"))
    monkeypatch.setattr(policy, "_unknown_years_logged", set())
    # Fri 2027-01-08 after 09:00 -> Mon 2027-01-11 09:00, by Monday-Friday only, without raising
    after = datetime(2027, 1, 8, 10, 0, tzinfo=TZ)
    assert policy.next_reminder(after, time(9, 0)) == datetime(2027, 1, 11, 9, 0, tzinfo=TZ)
    assert policy._unknown_years_logged == {2027}
    # the real calendar where it is known: Fri 2026-02-13 -> Sat 2026-02-14 (make-up day)
    assert policy.next_reminder(datetime(2026, 2, 13, 10, 0, tzinfo=TZ), time(9, 0)) == datetime(
        2026, 2, 14, 9, 0, tzinfo=TZ)
