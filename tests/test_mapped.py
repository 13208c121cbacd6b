"""A column's JSON source read with its field mapping (monitor.extract.mapped), judged as a list page is."""

from __future__ import annotations

import json
from datetime import date

from monitor.extract.mapped import read_list
from monitor.model import EmptyReason

TODAY = date(2026, 11, 25)
URL = "http://127.0.0.1:8081/api/col/1229/list?pageNo=1&pageSize=15"
MAPPING = {"items": "data.page.records", "title": "docTitle", "url": "link", "date": "pubDate"}


def api(records: list[dict] | None, **extra: object) -> str:
    """The shape 新点/大汉-style column APIs answer with: a status envelope, paging, then the records."""
    body = {"code": 200, "msg": "操作成功", "serverTime": "2026-11-25 08:00:00",
            "data": {"page": {"total": 63, "pageNo": 1, "records": records}, **extra}}
    return json.dumps(body, ensure_ascii=False)


RECORDS = [
    {"docId": 81237, "docTitle": "关于2027年元旦放假安排的通知", "link": "/art/2027/1/5/art_1229_81237.html",
     "pubDate": "2027-01-05 09:00:00", "isTop": 1},  # scheduled ahead: never the newest
    {"docId": 81230, "docTitle": "  青溪县人民政府关于公布第二批县级非遗代表性项目名录的通知 ",
     "link": "/art/2026/11/23/art_1229_81230.html", "pubDate": "2026-11-23 16:20:11"},
    {"docId": 81201, "docTitle": "关于开展2026年度安全生产专项检查的通知", "link": "http://127.0.0.1:8081/art/81201.html",
     "pubDate": 1762646400000},  # epoch milliseconds: 2025-11-09 08:00 Shanghai
    {"docId": 81190, "docTitle": "青溪县2026年第三季度政府信息公开工作情况通报", "link": "/art/81190.html",
     "pubDate": "2026年10月12日"},
]


def test_items_and_newest_date_from_the_mapping() -> None:
    result = read_list(api(RECORDS), URL, TODAY, MAPPING)
    assert result.newest_date == date(2026, 11, 23) and result.reason is None
    assert [i.date for i in result.items] == [date(2027, 1, 5), date(2026, 11, 23), date(2025, 11, 9),
                                              date(2026, 10, 12)]
    assert result.items[1].title == "青溪县人民政府关于公布第二批县级非遗代表性项目名录的通知"
    assert result.items[1].url == "http://127.0.0.1:8081/art/2026/11/23/art_1229_81230.html"


def test_an_empty_list_is_a_blank_column() -> None:
    assert read_list(api([]), URL, TODAY, MAPPING).reason is EmptyReason.EMPTY


def test_what_is_not_the_mapped_list_is_unreadable_never_blank() -> None:
    waf = "<html><head><title>安全验证</title></head><body>请输入验证码</body></html>"
    for text in (waf, api(None), json.dumps({"code": 500, "msg": "系统繁忙"}), api(["a", "b"]), "", "{"):
        result = read_list(text, URL, TODAY, MAPPING)
        assert (result.newest_date, result.reason) == (None, EmptyReason.NO_LIST), text


def test_records_without_dates() -> None:
    undated = [{"docTitle": "机构职能", "link": "/jgzn.html"}, {"docTitle": "领导信息", "link": "/ldxx.html"}]
    result = read_list(api(undated), URL, TODAY, MAPPING)
    assert (result.newest_date, result.reason, len(result.items)) == (None, EmptyReason.NO_DATES, 2)
