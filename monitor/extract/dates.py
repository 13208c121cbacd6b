"""Regex date reader for Chinese government pages.

Handles 2023年5月31日, 2023-05-31, 2023/5/31, 2023.05.31 (with or without a time), 23-05-31, May 31, 2023,
full-width digits and brackets, year-less 05-31 / 5月31日 (year inferred from ``today``),
二〇二三年五月三十一日, and the dates that CMSs put into article URLs.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from monitor.list_override import format_pattern

# One-to-one character mapping, so match offsets stay valid for the original string.
_FULLWIDTH = str.maketrans("０１２３４５６７８９－／．：　", "0123456789-/.: ")
_HAS_FULLWIDTH = re.compile("[０-９－／．：　]")  # translate() is slow on non-ASCII text; most has nothing to map
# Every date form needs a digit (\d includes full-width ones) or a Chinese zero (see find_dates).
_MAY_HAVE_DATE = re.compile(r"[\d〇○零]")

_FULL = re.compile(
    r"(?<![\d.])((?:19|20)\d{2})\s*(?:"
    r"年\s*(\d{1,2})\s*月\s*(\d{1,2})(?!\d)\s*日?"
    r"|([-/.])\s*(\d{1,2})\s*\4\s*(\d{1,2})(?![\d.]))"
)
# Year-less month-day: 5月31日, 05-31, 05/31. Neighbouring digits or separators would make
# it part of a phone number, an ID or a full date, so they are excluded.
_SHORT = re.compile(r"(?<![\d\-/.年])(\d{1,2})\s*(?:月\s*(\d{1,2})\s*日|([-/])(\d{1,2})(?![\d\-/.]))")
# A two-digit year first (14-04-29, 14.4.29): how some CMS templates print dates. Neighbouring digits or
# separators would make it part of a longer number, a full date or an address.
_TWO_DIGIT_YEAR = re.compile(r"(?<![\d\-/.:])(\d{2})([-/.])(\d{1,2})\2(\d{1,2})(?![\d\-/.:])")
# English month names (an English-language sub-site): "On October 26,2020", "Oct. 26, 2020", "26 October 2020".
_MONTHS = {name: n for n, names in enumerate(
    ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul", "august aug",
     "september sep sept", "october oct", "november nov", "december dec"), start=1) for name in names.split()}
_EN_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_EN = re.compile(
    rf"(?<![A-Za-z])(?:({_EN_MONTH})\.?\s*(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*((?:19|20)\d{{2}})"
    rf"|(\d{{1,2}})(?:st|nd|rd|th)?\s+({_EN_MONTH})\.?,?\s+((?:19|20)\d{{2}}))(?![\d])",
    re.I,
)
_EN_HINT = re.compile(r"[A-Za-z]{3}")
_CN_NUM = "〇零一二三四五六七八九十"
_CN = re.compile(rf"([{_CN_NUM}○Ｏ]{{4}})\s*年\s*([{_CN_NUM}]{{1,3}})\s*月\s*([{_CN_NUM}]{{1,3}})\s*日")
# A day and a year-month split across elements: "12 2023-10" or "2023-10 12".
_DAY_YM = re.compile(r"(?<![\d\-/.])(\d{1,2})\s+((?:19|20)\d{2})\s*[-./年]\s*(\d{1,2})(?![\d\-/.])")
_YM_DAY = re.compile(r"(?<![\d\-/.])((?:19|20)\d{2})\s*[-./年]\s*(\d{1,2})\s*月?\s+(\d{1,2})(?![\d\-/.:])")
# A publish label; 截止时间/结束日期/有效期 and the like label other dates.
LABEL = re.compile(r"(?:(?:发布|发文|成文|更新|印发|公开)|(?<![止至束始效]))(?:时间|日期)\s*[:：]")

_MAY_HAVE_YEAR = re.compile(r"(?:19|20)\d{2}")  # in every URL pattern
_URL_PATTERNS = (
    re.compile(r"[/_]t((?:19|20)\d{2})(\d{2})(\d{2})_\d+"),  # TRS t20231012_123.html
    re.compile(r"/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})/"),  # Hanweb /art/2023/10/12/art_...
    re.compile(r"/((?:19|20)\d{2})-(\d{1,2})/(\d{1,2})/"),  # /2023-10/12/
    re.compile(r"/((?:19|20)\d{2})(\d{2})/(\d{2})/"),  # /202310/12/
    re.compile(r"/((?:19|20)\d{2})-(\d{2})-(\d{2})/"),  # /2023-10-12/
    re.compile(r"(?<![\d])((?:19|20)\d{2})(\d{2})(\d{2})(?:\d{4,6})?(?![\d])"),  # c_20231012, 20231012103000
)


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def infer_year(month: int, day: int, today: date) -> date | None:
    """The most recent month-day not later than tomorrow (a list is never dated ahead)."""
    limit = today + timedelta(days=1)
    for year in (today.year, today.year - 1, today.year - 2, today.year - 3, today.year - 4):
        found = _make(year, month, day)
        if found and found <= limit:
            return found
    return None


_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "Ｏ": 0}


def _cn_int(text: str) -> int:
    """Value of a Chinese numeral: digit strings (二〇二三) or tens (三十一); -1 when malformed."""
    tens, ten, units = text.partition("十")
    if not ten:
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return -1
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)


MonthDay = tuple[int, int]  # a date printed without its year
# One date found in a text: (year or None when the text gives none, month, day, start, end).
Hit = tuple[int | None, int, int, int, int]


def scan_dates(text: str) -> list[Hit]:
    """Every date written in ``text``, in order, with its year as written (None for 05-31, 5月31日).

    Impossible dates (2023-02-30) are left out; their text is still kept from the year-less pass.
    """
    norm = text.translate(_FULLWIDTH) if _HAS_FULLWIDTH.search(text) else text
    found: list[Hit] = []
    taken: list[tuple[int, int]] = []
    for m in _FULL.finditer(norm):
        month, day = (m.group(2), m.group(3)) if m.group(2) else (m.group(5), m.group(6))
        year = int(m.group(1))
        taken.append(m.span())
        if _make(year, int(month), int(day)):
            found.append((year, int(month), int(day), m.start(), m.end()))
    for m in _TWO_DIGIT_YEAR.finditer(norm):
        yy = int(m.group(1))
        year, month, day = (2000 + yy if yy < 70 else 1900 + yy), int(m.group(3)), int(m.group(4))
        taken.append(m.span())
        if _make(year, month, day):
            found.append((year, month, day, m.start(), m.end()))
    if _EN_HINT.search(norm):
        for m in _EN.finditer(norm):
            name, day, year = m.group(1, 2, 3) if m.group(1) else m.group(5, 4, 6)
            month = _MONTHS[name.lower()]
            taken.append(m.span())
            if _make(int(year), month, int(day)):
                found.append((int(year), month, int(day), m.start(), m.end()))
    if "〇" in norm or "○" in norm or "零" in norm:
        for m in _CN.finditer(norm):
            year, month, day = _cn_int(m.group(1)), _cn_int(m.group(2)), _cn_int(m.group(3))
            taken.append(m.span())
            if _make(year, month, day):
                found.append((year, month, day, m.start(), m.end()))
    for m in _SHORT.finditer(norm):
        if any(s <= m.start() < e for s, e in taken):
            continue
        month, day = int(m.group(1)), int(m.group(2) or m.group(4))
        if _make(2000, month, day):  # a leap year: 02-29 is a month-day
            found.append((None, month, day, m.start(), m.end()))
    if len(found) > 1:
        found.sort(key=lambda t: t[3])
    return found


def hit_date(hit: Hit, today: date) -> date | None:
    """The hit's date; a year-less one gets the most recent year not later than tomorrow."""
    year, month, day = hit[0], hit[1], hit[2]
    return _make(year, month, day) if year is not None else infer_year(month, day, today)


def find_dates(text: str, today: date) -> list[tuple[date, int, int]]:
    """All dates in ``text`` as (date, start, end), in order; year-less ones get an inferred year."""
    found = []
    for hit in scan_dates(text):
        d = hit_date(hit, today)
        if d:
            found.append((d, hit[3], hit[4]))
    return found


def best_hit(text: str) -> Hit | None:
    """The date a short string (an item's date cell) stands for, year-less or not.

    A labelled date (发布时间：…) wins, then the first date carrying a year, then the first
    year-less one: a row's own full date is never beaten by a month-day in its summary.
    """
    if not _MAY_HAVE_DATE.search(text):
        return None
    found = scan_dates(text)
    if len(found) <= 1:  # a label could only pick a later date
        return found[0] if found else None
    label = LABEL.search(text)
    if label:
        for hit in found:
            if hit[3] >= label.end():
                return hit
    for hit in found:
        if hit[0] is not None:
            return hit
    return found[0]


def split_date(text: str) -> date | None:
    """A day and a year-month written apart (<em>12</em><span>2023-10</span>)."""
    if not _MAY_HAVE_DATE.search(text):
        return None
    text = text.translate(_FULLWIDTH)
    for pattern, order in ((_DAY_YM, (2, 3, 1)), (_YM_DAY, (1, 2, 3))):
        m = pattern.search(text)
        if m:
            d = _make(*(int(m.group(i)) for i in order))
            if d:
                return d
    return None


def parse_date(text: str, today: date) -> date | None:
    """The single best date of a short string such as an item's date cell (see ``best_hit``), else a day
    and year-month split across elements; a year-less date takes the most recent year up to tomorrow."""
    hit = best_hit(text)
    if hit is not None:
        return hit_date(hit, today)
    return split_date(text)


def latest_on_or_before(month_day: MonthDay, bound: date) -> date | None:
    """The latest date with this month and day not after ``bound`` (within five years)."""
    for year in range(bound.year, bound.year - 5, -1):
        found = _make(year, *month_day)
        if found and found <= bound:
            return found
    return None


def earliest_on_or_after(month_day: MonthDay, bound: date) -> date | None:
    """The earliest date with this month and day not before ``bound`` (within five years)."""
    for year in range(bound.year, bound.year + 5):
        found = _make(year, *month_day)
        if found and found >= bound:
            return found
    return None


def hit_by_format(text: str, fmt: str) -> Hit | None:
    """The first date in ``text`` written as ``fmt`` (year-less when the format has no year)."""
    norm = text.translate(_FULLWIDTH) if _HAS_FULLWIDTH.search(text) else text
    for m in format_pattern(fmt).finditer(norm):
        fields = m.groupdict()
        year = int(fields["Y"]) if fields.get("Y") else (2000 + int(fields["y"]) if fields.get("y") else None)
        month, day = int(fields["m"]), int(fields["d"])
        if _make(year if year is not None else 2000, month, day):
            return year, month, day, m.start(), m.end()
    return None


def date_from_url(url: str) -> date | None:
    """The publication date a CMS encoded into an article URL, if any."""
    path = url.split("?", 1)[0]
    path = path.split("://", 1)[-1]
    slash = path.find("/")
    if slash < 0:
        return None
    path = path[slash:]
    if not _MAY_HAVE_YEAR.search(path):
        return None
    for pattern in _URL_PATTERNS:
        for m in pattern.finditer(path):
            d = _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if d:
                return d
    return None


_SHANGHAI = timezone(timedelta(hours=8))  # China keeps UTC+8 all year (no daylight saving since 1991)
_EPOCH_MAX_S = 4e9  # 2096: beyond that a number is not a timestamp


def epoch_date(value: float) -> date | None:
    """The Shanghai date of a Unix timestamp in seconds or milliseconds (as JSON list APIs and feeds give
    them), or None when the number cannot be one."""
    seconds = value / 1000 if value > 1e11 else value
    if not 0 < seconds < _EPOCH_MAX_S:
        return None
    return datetime.fromtimestamp(seconds, _SHANGHAI).date()
