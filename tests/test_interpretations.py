"""Policy interpretations: matching documents to interpretations (quoted titles, similar titles, links), which
documents need one, the 3-working-day deadline across the 2026 National Day, and end to end from the column
probes' stored items through the check."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from monitor import config
from monitor.checks.honest import SeenItem
from monitor.checks.interpretation import InterpretationCheck, Selection, core, findings, judge, match
from monitor.evaluate import TZ
from monitor.model import State
from monitor.service import monitoring
from monitor.workdays import WorkCalendar
from tests.conftest import ListPage, PageServer

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(None)


def item(title: str, day: str, url: str | None = None) -> SeenItem:
    seen = datetime.fromisoformat(day + "T12:00:00+08:00")
    return SeenItem(url or f"http://127.0.0.1/x/{abs(hash(title))}.html", title, date.fromisoformat(day), seen,
                    seen + timedelta(days=3))


def test_titles_reduce_to_what_document_and_interpretation_share() -> None:
    doc = "青溪县人民政府办公室关于印发《青溪县促进民营经济高质量发展若干措施》的通知（青政办发〔2026〕31号）"
    assert core(doc) == "青溪县促进民营经济高质量发展若干措施"
    assert core("一图读懂《青溪县促进民营经济高质量发展若干措施》") == "青溪县促进民营经济高质量发展若干措施"
    assert core("《关于进一步加强城乡供水保障工作的意见》政策解读") == "进一步加强城乡供水保障工作的意见"
    assert core("青溪县人民政府关于进一步加强城乡供水保障工作的意见") == "进一步加强城乡供水保障工作的意见"


def test_matching_by_quote_by_title_and_not_by_near_misses() -> None:
    private = item("青溪县人民政府办公室关于印发《青溪县促进民营经济高质量发展若干措施》的通知", "2026-11-20")
    water = item("青溪县人民政府关于进一步加强城乡供水保障工作的意见", "2026-11-10")
    plan25 = item("青溪县人民政府办公室关于印发青溪县2025年政务公开工作要点的通知", "2026-03-02")
    digital = item("青溪县人民政府办公室关于印发《青溪县促进数字经济高质量发展若干措施》的通知", "2026-11-20")
    interps = [
        item("《青溪县促进民营经济高质量发展若干措施》政策解读", "2026-11-23"),
        item("图解：关于进一步加强城乡供水保障工作的意见", "2026-11-12"),
        item("《青溪县2026年政务公开工作要点》解读", "2026-03-20"),  # another year's edition
    ]
    found = match([private, water, plan25, digital], interps)
    assert found[private.url] == (interps[0], "quoted")
    assert found[water.url] == (interps[1], "title")
    assert plan25.url not in found and digital.url not in found  # 2025 ≠ 2026, 数字 ≠ 民营


def test_an_interpretation_dated_long_before_a_document_is_not_its_interpretation() -> None:
    doc = item("青溪县住房公积金管理办法", "2026-11-02")
    old = item("一图读懂《青溪县住房公积金管理办法》", "2026-05-10")
    assert match([doc], [old]) == {}
    assert match([doc], [item("一图读懂《青溪县住房公积金管理办法》", "2026-10-30")])  # released together


def test_links_match_and_lists_of_links_do_not() -> None:
    doc = item("青溪县人民政府关于印发青溪县支持数字经济发展十条政策的通知", "2026-11-10", "http://127.0.0.1/zcwj/a.html")
    other = item("青溪县人民政府关于印发青溪县文旅消费券发放实施方案的通知", "2026-11-10", "http://127.0.0.1/zcwj/b.html")
    third = item("青溪县人民政府关于印发青溪县冬季清洁取暖实施方案的通知", "2026-11-10", "http://127.0.0.1/zcwj/c.html")
    expert = item("专家解读：数字赋能 十条政策为企业送上真金白银", "2026-11-11", "http://127.0.0.1/zcjd/e.html")
    assert match([doc, other, third], [expert]) == {}
    linked = {"http://127.0.0.1/zcjd/e.html": frozenset({"https://127.0.0.1/zcwj/a.html#top", "http://127.0.0.1/"})}
    assert match([doc, other, third], [expert], linked) == {doc.url: (expert, "link")}
    # the document's page links its interpretation (相关解读): the same
    assert match([doc], [expert], {doc.url: frozenset({expert.url})}) == {doc.url: (expert, "link")}
    # a page listing several documents (最新文件 sidebar) says nothing about any of them
    sidebar = {expert.url: frozenset({doc.url, other.url, third.url})}
    assert match([doc, other, third], [expert], sidebar) == {}


def test_which_documents_need_an_interpretation() -> None:
    default = Selection()
    assert default.needs("青溪县人民政府关于加快推进老旧小区改造的实施意见")
    assert default.needs("青溪县住房公积金管理办法")
    assert not default.needs("青溪县人民政府办公室转发市政府关于做好冬季安全生产工作的通知")
    assert not default.needs("青溪县人民政府关于张三等同志职务任免的通知")
    assert not default.needs("关于2027年元旦放假安排的通知")
    assert not default.needs("青溪县城东片区控制性详细规划批前公示")
    only_government = Selection(issuer=r"人民政府(?:办公室)?$")
    assert only_government.needs("青溪县人民政府办公室关于印发森林防火工作方案的通知")
    assert not only_government.needs("青溪县农业农村局关于印发森林防火工作方案的通知")
    model = config.InterpretationSelect(include="办法")
    assert Selection.from_config(model).needs("青溪县住房公积金管理办法")
    assert not Selection.from_config(model).needs("青溪县人民政府关于加快推进老旧小区改造的实施意见")


def test_deadline_across_national_day_yellow_on_the_third_working_day(cal: WorkCalendar) -> None:
    # Issued Wed 2026-09-30; Oct 1-7 off: Thu 10-08 (1), Fri 10-09 (2), Sat 10-10 (3, 调休 make-up day).
    doc = item("青溪县人民政府关于进一步加强城乡供水保障工作的意见", "2026-09-30")
    covered = date(2026, 9, 1)

    def state(today: str) -> State:
        (j,) = judge([doc], [], date.fromisoformat(today), cal, covered)
        assert j.deadline == date(2026, 10, 10)
        return j.state

    assert [state(d) for d in ("2026-10-08", "2026-10-09", "2026-10-10", "2026-10-11")] == [
        State.GREEN, State.GREEN, State.YELLOW, State.RED]
    on_time = item("《关于进一步加强城乡供水保障工作的意见》政策解读", "2026-10-10")
    late = item("《关于进一步加强城乡供水保障工作的意见》政策解读", "2026-10-12")
    assert not judge([doc], [on_time], date(2026, 11, 25), cal, covered)[0].late
    (j,) = judge([doc], [late], date(2026, 11, 25), cal, covered)
    assert j.late and j.how == "quoted"
    (f,) = findings("s1", "u1", [j])
    assert (f.check, f.key, f.severity) == ("interpretation", f"late:{doc.url}", State.YELLOW)
    assert "2026-10-12 才发布" in f.detail and "（2026-10-10）" in f.detail


def test_documents_older_than_the_interpretation_column_reaches_are_not_judged(cal: WorkCalendar) -> None:
    doc = item("青溪县人民政府关于加快推进老旧小区改造的实施意见", "2026-08-20")
    assert judge([doc], [], date(2026, 11, 25), cal, date(2026, 9, 1)) == []
    assert judge([doc], [], date(2026, 11, 25), cal, None) == []
    (j,) = judge([doc], [], date(2026, 11, 25), cal, date(2026, 8, 1))
    assert j.state is State.RED


def inventory(tmp: Path, pages: PageServer, **site: Any) -> dict[str, Any]:
    return {
        "settings": {"store": str(tmp / "govwatch.sqlite3"), "extract_workers": 0,
                     "fetch": {"timeout": "5s", "per_host_interval": "0s"}},
        "categories": {"政策解读": {"deadline": "6mo", "lead": "30d", "interval": "12h"}},
        "units": [{"id": "u1", "name": "青溪县人民政府办公室"}],
        "sites": [{"id": "s1", "name": "青溪县人民政府网站", "unit": "u1", "homepage": pages.url("/"),
                   "check_homepage": False,
                   "columns": [{"id": "s1-zcwj", "name": "政策文件", "url": pages.url("/zcwj/index.html"),
                                "category": "政策文件"},
                               {"id": "s1-zcjd", "name": "政策解读", "url": pages.url("/zcjd/index.html"),
                                "category": "政策解读"}],
                   "interpretation_column": "s1-zcjd", **site}],
    }


def test_inventory_interpretation_column_errors(tmp_path: Path, page_server: PageServer) -> None:
    def problems(data: dict[str, Any]) -> list[str]:
        path = tmp_path / "inv.yaml"
        YAML().dump(data, path)
        with pytest.raises(config.ConfigError) as info:
            config.load(path)
        return [str(p) for p in info.value.problems]

    inv = config.build(inventory(tmp_path, page_server), "inv.yaml", lambda loc: None)
    (subject,) = InterpretationCheck().subjects(inv)
    assert (subject.id, subject.data.column, subject.data.policy_columns) == ("s1", "s1-zcjd", ("s1-zcwj",))
    (wrong,) = problems(inventory(tmp_path, page_server, interpretation_column="zcjd"))
    assert wrong.startswith(f"{tmp_path / 'inv.yaml'}:") and "sites[0].interpretation_column" in wrong
    assert "no column with id 'zcjd'" in wrong and "s1-zcjd" in wrong
    data = inventory(tmp_path, page_server)
    data["sites"][0]["columns"] = data["sites"][0]["columns"][1:]
    (none,) = problems(data)
    assert "no column of category 政策文件" in none
    (bad,) = problems(inventory(tmp_path, page_server, interpretation_select={"include": "通知|("}))
    assert "interpretation_select.include" in bad and "not a regular expression" in bad


DOCS = [
    ("青溪县人民政府办公室关于印发《青溪县促进民营经济高质量发展若干措施》的通知", "2026-11-20"),
    ("青溪县人民政府关于加快推进老旧小区改造的实施意见", "2026-11-13"),
    ("青溪县人民政府办公室关于印发青溪县2026年冬春季森林防火工作方案的通知", "2026-11-20"),
    ("青溪县人民政府办公室转发市政府关于做好冬季安全生产工作的通知", "2026-11-18"),
    ("青溪县人民政府关于张三等同志职务任免的通知", "2026-11-16"),
    ("青溪县住房公积金管理办法", "2026-11-02"),
    ("青溪县人民政府关于印发青溪县支持数字经济发展十条政策的通知", "2026-11-10"),
    ("青溪县人民政府关于印发青溪县农村人居环境整治提升方案的通知", "2026-08-20"),  # before the 解读 column reaches
]
INTERPS = [
    ("《青溪县促进民营经济高质量发展若干措施》政策解读", "2026-11-23"),
    ("一图读懂《青溪县住房公积金管理办法》", "2026-11-09"),
    ("专家解读：数字赋能 十条政策为企业送上真金白银", "2026-11-11"),
    ("《青溪县2026年义务教育招生方案》解读", "2026-09-01"),
]


async def test_interpretations_end_to_end(tmp_path: Path, page_server: PageServer, make_list_page: ListPage) -> None:
    page_server.set("/zcwj/index.html", make_list_page(DOCS, "政策文件"))
    page_server.set("/zcjd/index.html", make_list_page(INTERPS, "政策解读"))
    # the expert's interpretation links its document (原文链接); its title alone would not match
    page_server.set("/zcjd/202611/t20261111_2.html",
                    '<html><body><h1>专家解读：数字赋能</h1><p>……</p>'
                    '<p>原文链接：<a href="../../zcwj/202611/t20261110_6.html">十条政策</a></p></body></html>')
    path = tmp_path / "inventory.yaml"
    YAML().dump(inventory(tmp_path, page_server), path)
    inv = config.load(path)
    async with monitoring(inv) as monitor:
        monitor.clock = lambda: NOW
        check = InterpretationCheck(calendar=WorkCalendar(None))
        monitor.check_runner._build = lambda inventory: [check]
        monitor.check_runner.configure(inv)
        await monitor.check_once()
        assert ("interpretation", "s1") not in monitor.findings  # no column read yet: nothing to judge by
        await monitor.sweep_once()
        await monitor.check_once()
        found = {k.finding.title: k.finding for k in monitor.findings[("interpretation", "s1")].values()}
        assert page_server.hits["/zcjd/202611/t20261111_2.html"] == 1
        await monitor.check_once()
        assert page_server.hits["/zcjd/202611/t20261111_2.html"] == 1  # a page's links are read once
        stored = await monitor.store.findings_list(check="interpretation")
    assert sorted(found) == [
        "政策文件今日须发布解读：「青溪县人民政府办公室关于印发青溪县2026年冬春季森林防火工作方案的通知」",
        "政策文件超期未解读：「青溪县人民政府关于加快推进老旧小区改造的实施意见」",
        "政策解读超期发布：「青溪县住房公积金管理办法」"]
    red = found["政策文件超期未解读：「青溪县人民政府关于加快推进老旧小区改造的实施意见」"]
    # issued Fri 11-13: Mon 11-16 (1), 11-17 (2), 11-18 (3)
    assert red.severity is State.RED and red.evidence["deadline"] == "2026-11-18" and red.unit_id == "u1"
    assert red.url == page_server.url("/zcwj/202611/t20261113_1.html")
    late = found["政策解读超期发布：「青溪县住房公积金管理办法」"]
    # issued Mon 11-02, due Thu 11-05, 一图读懂 on 11-09
    assert late.severity is State.YELLOW and late.evidence["matched_by"] == "quoted"
    assert late.evidence["deadline"] == "2026-11-05" and late.evidence["interpreted"] == "2026-11-09"
    assert len(stored) == 3
