from datetime import date

import pytest

from monitor.extract.dates import (
    best_hit,
    date_from_url,
    earliest_on_or_after,
    find_dates,
    format_pattern,
    hit_by_format,
    infer_year,
    latest_on_or_before,
    parse_date,
)

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023年5月31日", date(2023, 5, 31)),
        ("2023 年 05 月 31 日", date(2023, 5, 31)),
        ("2023-05-31", date(2023, 5, 31)),
        ("2023/5/31", date(2023, 5, 31)),
        ("2023.05.31", date(2023, 5, 31)),
        ("2023-5-3", date(2023, 5, 3)),
        ("2023-05-31 10:20:33", date(2023, 5, 31)),
        ("［２０２３－０５－３１］", date(2023, 5, 31)),
        ("【2023年05月31日】", date(2023, 5, 31)),
        ("（05-31）", date(2026, 5, 31)),
        ("[11-03]", date(2026, 11, 3)),
        ("5月31日", date(2026, 5, 31)),
        ("发布时间：2023-05-31", date(2023, 5, 31)),
        ("发布日期:2023年5月31日 星期三", date(2023, 5, 31)),
        ("二〇二三年五月三十一日", date(2023, 5, 31)),
        ("二〇二六年十月十二日", date(2026, 10, 12)),
        ("12 2023-10", date(2023, 10, 12)),
        ("12 2023.10", date(2023, 10, 12)),
        ("2023-10 12", date(2023, 10, 12)),
    ],
)
def test_parse_date_formats(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-30",  # no such day
        "2023年13月01日",
        "京ICP备05070218号",
        "联系电话：010-12345678",
        "传真：(0755)87654321",
        "2025年度工作报告",
        "Copyright © 2003-2026",
        "网站标识码：1100000088",
        "20231012",
        "",
        "第3.5版",
        "二〇二三年十一十月一日",
        "二〇二三年十三月一日",
    ],
)
def test_parse_date_rejects_non_dates(text: str) -> None:
    assert parse_date(text, TODAY) is None


def test_label_wins_over_earlier_date() -> None:
    text = "截至2026年12月31日 发布时间：2026-11-02"
    assert parse_date(text, TODAY) == date(2026, 11, 2)


def test_deadline_label_is_not_a_publish_label() -> None:
    assert parse_date("截止时间：2026-12-31 发布日期：2026-11-02", TODAY) == date(2026, 11, 2)
    assert parse_date("截止时间：2026-12-31", TODAY) == date(2026, 12, 31)


def test_find_dates_spans_and_order() -> None:
    text = "今天是2026年11月25日 星期三，发布于2026-11-02 和 11-01"
    found = find_dates(text, TODAY)
    assert [d for d, _, _ in found] == [date(2026, 11, 25), date(2026, 11, 2), date(2026, 11, 1)]
    _, start, end = found[1]
    assert text[start:end] == "2026-11-02"


def test_find_dates_full_width_spans_match_original() -> None:
    text = "发布：２０２３－１０－１２"
    [(d, start, end)] = find_dates(text, TODAY)
    assert d == date(2023, 10, 12)
    assert text[start:end] == "２０２３－１０－１２"


def test_find_dates_does_not_split_full_date_into_short_ones() -> None:
    assert find_dates("2023-10-12", TODAY) == [(date(2023, 10, 12), 0, 10)]


def test_infer_year_across_year_boundary() -> None:
    today = date(2026, 1, 5)
    assert infer_year(12, 28, today) == date(2025, 12, 28)
    assert infer_year(1, 4, today) == date(2026, 1, 4)
    assert infer_year(1, 6, today) == date(2026, 1, 6)  # tomorrow is allowed (time zones, clocks)
    assert infer_year(1, 7, today) == date(2025, 1, 7)


def test_infer_year_leap_day() -> None:
    assert infer_year(2, 29, date(2026, 3, 1)) == date(2024, 2, 29)
    assert infer_year(2, 30, TODAY) is None


def test_yearless_date_with_today() -> None:
    assert parse_date("12-28", date(2026, 1, 5)) == date(2025, 12, 28)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/col/202310/t20231012_123.html", date(2023, 10, 12)),
        ("./202310/t20231012_456.html", date(2023, 10, 12)),
        ("http://127.0.0.1/art/2023/10/12/art_1229_123.html", date(2023, 10, 12)),
        ("http://127.0.0.1/xinwen/2023-10/12/content_5.htm", date(2023, 10, 12)),
        ("http://127.0.0.1/news/c_20231012_88.html", date(2023, 10, 12)),
        ("http://127.0.0.1/html/20231012103000/1.html", date(2023, 10, 12)),
        ("http://127.0.0.1/2023/1/5/9.html", date(2023, 1, 5)),
    ],
)
def test_date_from_url(url: str, expected: date) -> None:
    assert date_from_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/ShowNews.asp?id=20231012",  # the query is an id, not a date
        "http://127.0.0.1/news/12345678.html",
        "http://127.0.0.1/a/t20231332_1.html",
        "http://20231012.example/",
        "",
    ],
)
def test_date_from_url_rejects(url: str) -> None:
    assert date_from_url(url) is None


def test_full_date_wins_over_earlier_yearless_one() -> None:
    assert parse_date("7月29日，召开会议 2017-08-15", TODAY) == date(2017, 8, 15)
    assert best_hit("7月29日 2017-08-15") == (2017, 8, 15, 6, 16)
    assert best_hit("（05-31）") == (None, 5, 31, 1, 6)


def test_month_day_bounds() -> None:
    assert latest_on_or_before((7, 29), date(2017, 8, 15)) == date(2017, 7, 29)
    assert latest_on_or_before((8, 20), date(2017, 8, 15)) == date(2016, 8, 20)
    assert latest_on_or_before((2, 29), date(2019, 3, 1)) == date(2016, 2, 29)
    assert earliest_on_or_after((1, 4), date(2025, 12, 28)) == date(2026, 1, 4)
    assert earliest_on_or_after((12, 30), date(2025, 12, 28)) == date(2025, 12, 30)


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("发布 2019/05/12 10:00", "%Y/%m/%d", (2019, 5, 12)),
        ("[05-12]", "%m-%d", (None, 5, 12)),
        ("2019年5月12日", "%Y年%m月%d日", (2019, 5, 12)),
        ("19.05.12", "%y.%m.%d", (2019, 5, 12)),
        ("２６－１１－２０", "%y-%m-%d", (2026, 11, 20)),
        ("2019/05/32", "%Y/%m/%d", None),
        ("123/05/12", "%y/%m/%d", None),
    ],
)
def test_hit_by_format(text: str, fmt: str, expected: tuple | None) -> None:
    hit = hit_by_format(text, fmt)
    assert (hit[:3] if hit else None) == expected


@pytest.mark.parametrize("fmt", ["%Y-%m", "%m", "%Y-%m-%q", "%d"])
def test_format_pattern_refuses_formats_without_month_and_day(fmt: str) -> None:
    with pytest.raises(ValueError):
        format_pattern(fmt)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("14-04-29", date(2014, 4, 29)), ("13.5.22", date(2013, 5, 22)), ("98/12/01", date(1998, 12, 1))],
)
def test_two_digit_years(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["10.0.0.1", "192.168.1.12", "v1.12.3", "0551-12-34", "12:30:45", "14-13-01"])
def test_two_digit_year_lookalikes_are_not_dates(text: str) -> None:
    assert parse_date(text, TODAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("On October 26,2020", date(2020, 10, 26)), ("Oct. 26, 2020", date(2020, 10, 26)),
     ("26 October 2020", date(2020, 10, 26)), ("Sept 3 2019", date(2019, 9, 3)), ("May 1st, 2021", date(2021, 5, 1))],
)
def test_english_month_names(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


def test_english_lookalikes_are_not_dates() -> None:
    assert parse_date("Mayor 12, 2020", TODAY) is None
    assert parse_date("Octopus 3 2019", TODAY) is None
