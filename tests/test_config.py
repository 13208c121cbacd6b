"""Inventory loading: YAML and Excel, every problem with file, line or row, field and a fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import xlsxwriter

from monitor.config import ConfigError, load
from monitor.durations import Duration

EXAMPLE = Path(__file__).parent.parent / "deploy" / "inventory.example.yaml"


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(path)
    return [str(p) for p in info.value.problems]


def test_example_inventory_loads_with_overrides() -> None:
    inv = load(EXAMPLE)
    by_name = {(t.site_id, t.name): t for t in inv.targets}
    assert len(inv.targets) == 14  # 8 columns + 2 homepages + 4 accounts (RSSHub ×2, wewe-rss, we-mp-rss)
    units = {u.id: u for u in inv.model.units}
    assert [r.events for r in units["xzf-bgs"].receivers] == [
        ("yellow", "red", "recovered", "repeat", "unregistered", "veto", "finding"), ("red",), ()]
    assert units["xzf-bgs"].receivers[1].quiet_hours == "22:00-08:00"
    assert inv.settings.alerts.supervisor == "gkb" and [s.to for s in inv.model.ladders["动态要闻"]] == [
        ("operator-sms",), ("leader-sms",)]
    assert by_name[("xzf", "人事任免")].rule.category == "人事信息"  # alias 人事
    assert by_name[("xzf", "乡镇动态")].rule.deadline == Duration.parse("7d")
    assert by_name[("xzf", "乡镇动态")].rule.lead == Duration.parse("2d")
    assert by_name[("xzf", "政务要闻")].rule.deadline == Duration.parse("14d")
    listed = by_name[("xzf", "公示公告")]  # a list built by script, read from the JSON behind it
    assert (listed.url, listed.read_url) == ("http://127.0.0.1:8081/col/col5/index.html",
                                             "http://127.0.0.1:8081/api/col5/list.json")
    assert listed.parser.startswith("mapped:") and listed.host == "127.0.0.1:8081"
    assert by_name[("fgj", "政策解读")].rule.text == "政策解读栏目 6 个月内须更新"
    assert by_name[("fgj", "首页")].kind == "homepage"
    assert "fgj-zcwj" in {t.id for t in inv.targets}


BAD = """\
units:
  - id: u1
    name: 县政府办
  - id: u1
    name: 重复单位
sites:
  - id: s1
    name: 县政府网站
    unit: u1
    homepage: http://127.0.0.1:9/
    columns:
      - name: 通知
        url: ftp://127.0.0.1/x
        category: 通知公告
        deadlin: 3d
      - name: 人事
        url: http://127.0.0.1:9/b/
        category: 人事
        lead: 5x
  - id: s2
    name: 另一网站
    unit: nope
    homepage: http://127.0.0.1:9/
  - id: s3
    name: 第三网站
    unit: u1
    homepage: http://127.0.0.1:9/
    columns:
      - {name: 动态, url: "http://127.0.0.1:9/c/", category: 动太}
"""


def test_every_problem_has_file_line_field_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(BAD, encoding="utf-8")
    found = problems_of(path)
    expected = [
        (f"{path}:13: sites[0].columns[0].url", "not an http(s) URL"),
        (f"{path}:15: sites[0].columns[0].deadlin", "unknown field"),
        (f"{path}:19: sites[0].columns[1].lead", "not a duration"),
        (f"{path}:4: units[1].id", "duplicate unit id"),
        (f"{path}:22: sites[1].unit", "unknown unit 'nope'"),
        (f"{path}:29: sites[2].columns[0].category", "unknown category '动太'"),
    ]
    for prefix, words in expected:
        assert any(p.startswith(prefix) and words in p for p in found), (prefix, found)
    assert len(found) == len(expected)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("units:\n  - id: u1\n    name: [unclosed\nsites: []\n", encoding="utf-8")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:4:") and "YAML syntax" in problem


def test_yaml_keeps_leading_zeros_and_colons(tmp_path: Path) -> None:
    """YAML 1.1 loaders read 0731 as octal and 12:30 as sexagesimal; ruamel's 1.2 does not."""
    path = tmp_path / "inv.yaml"
    path.write_text(
        'units:\n  - id: "0731"\n    name: 长沙\n    contacts: [{name: 值班, phone: "0731-12345678"}]\n'
        "sites:\n  - id: s1\n    name: 站点\n    unit: \"0731\"\n    homepage: http://127.0.0.1:9/\n",
        encoding="utf-8",
    )
    inv = load(path)
    assert inv.model.units[0].id == "0731"
    assert inv.targets[0].unit_id == "0731"


def _sheet(path: Path, rows: list[list[str]]) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("栏目清单")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.close()


HEADER = ["序号", "单位", "网站", "栏目", "地址", "类别"]


def test_excel_import_with_merged_cells(tmp_path: Path) -> None:
    path = tmp_path / "清单.xlsx"
    _sheet(path, [
        ["2026年度政府网站栏目监测清单"],
        HEADER,
        ["1", "县政府办", "县政府网站", "政务要闻", "http://127.0.0.1:9/zwyw/", "动态要闻"],
        ["2", "", "", "通知公告", "http://127.0.0.1:9/tzgg/", "通知公告"],  # merged cells: as above
        ["3", "县发改局", "发改局网站", "发展规划", "http://127.0.0.1:8/fzgh/", "规划计划"],
    ])
    inv = load(path)
    columns = [t for t in inv.targets if t.kind == "column"]
    assert [(t.unit_name, t.site_name, t.name, t.rule.category) for t in columns] == [
        ("县政府办", "县政府网站", "政务要闻", "动态要闻"),
        ("县政府办", "县政府网站", "通知公告", "通知公告"),
        ("县发改局", "发改局网站", "发展规划", "规划计划"),
    ]
    homepages = {t.url for t in inv.targets if t.kind == "homepage"}
    assert homepages == {"http://127.0.0.1:9/", "http://127.0.0.1:8/"}


def test_excel_problems_come_in_one_round_by_sheet_row_and_header_in_chinese(tmp_path: Path) -> None:
    """Every problem of the sheet at once — empty cells and what the checks find in the other rows — each by
    sheet, row and column header, saying what to write in the cell."""
    path = tmp_path / "清单.xlsx"
    _sheet(path, [
        HEADER,
        ["1", "县政府办", "县政府网站", "政务要闻", "http://127.0.0.1:9/zwyw/", "动态要闻"],
        ["2", "县政府办", "县政府网站", "通知公告", "", "通知公告"],  # no address
        ["3", "县政府办", "县政府网站", "乱写", "www.example.gov.cn/x", "乱写类别"],  # two problems in one row
        ["4", "县政府办", "县政府网站", "", "http://127.0.0.1:9/rs/", "人事信息"],  # no name
        ["5", "县政府办", "县政府网站", "政务要闻", "http://127.0.0.1:9/zwyw/", "动态要闻"],  # the first row again
    ])
    where = f"{path} 工作表「栏目清单」"
    assert problems_of(path) == [
        f"{where}第 3 行「地址」列：此格为空，请填写栏目列表页的完整网址，如 http://www.example.gov.cn/col/",
        f"{where}第 4 行「地址」列：“www.example.gov.cn/x”不是完整网址，请填写以 http:// 或 https:// 开头的地址，"
        "如 http://www.example.gov.cn/col/",
        f"{where}第 4 行「类别」列：类别“乱写类别”不认识，请填写以下之一："
        "动态要闻、通知公告、政策文件、人事信息、规划计划",
        f"{where}第 5 行「栏目」列：此格为空，请填写栏目的名称",
        f"{where}第 6 行：与另一行的栏目相同（同一网站、同一地址）：一个栏目只写一行，请删除重复的行",
    ]
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "import-excel", str(path), "-o",
                          str(tmp_path / "inv.yaml")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and not (tmp_path / "inv.yaml").exists()
    assert out.stderr.splitlines()[0] == f"5 problem(s) in {path}:"  # check-config's header
    assert out.stderr.splitlines()[1:] == [f"  {p}" for p in problems_of(path)]


def test_excel_without_header_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "清单.xlsx"
    _sheet(path, [["名称", "链接"], ["a", "b"]])
    [problem] = problems_of(path)
    assert problem == (f"{path} 工作表「栏目清单」：未找到表头：表头行（前 10 行内）须有 单位、网站、栏目、地址、类别 "
                       "各列，请在表头写上这些列名")


def test_check_config_command(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "monitor.cli", "check-config", str(EXAMPLE)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    path = tmp_path / "inv.yaml"
    path.write_text(BAD, encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "monitor.cli", "check-config", str(path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert "6 problem(s)" in bad.stderr and f"{path}:22: sites[1].unit" in bad.stderr
    refused = subprocess.run([sys.executable, "-m", "monitor.cli", "run", "--config", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "refusing to start" in refused.stderr


def test_json_inventory_reports_lines_on_errors(tmp_path: Path) -> None:
    path = tmp_path / "inv.json"
    path.write_text(
        '{"units": [{"id": "u1", "name": "县政府办"}],\n'
        ' "sites": [{"id": "s1", "name": "站点", "unit": "u1", "homepage": "http://127.0.0.1:9/",\n'
        '            "columns": [{"name": "动态", "url": "http://127.0.0.1:9/a/", "category": "动态要闻"},\n'
        '                        {"name": "坏", "url": "http://127.0.0.1:9/b/", "category": "不存在"}]}]}\n',
        encoding="utf-8",
    )
    assert problems_of(path) == [
        f"{path}:4: sites[0].columns[1].category: unknown category '不存在'; use one of 动态要闻, 通知公告, 政策文件, "
        "人事信息, 规划计划, 首页 or define it under categories:"
    ]
    path.write_text(path.read_text(encoding="utf-8").replace('"不存在"', '"人事"'), encoding="utf-8")
    assert len(load(path).targets) == 3
    path.write_text('{"units": [', encoding="utf-8")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:1: JSON syntax")


def test_unknown_check_and_event_names_are_refused_and_checks_choose_what_runs(tmp_path: Path) -> None:
    from monitor.checks.registry import build_checks

    path = tmp_path / "inv.yaml"
    path.write_text("settings:\n  checks: [links, linkz]\n", encoding="utf-8")
    found = problems_of(path)
    assert any(p.startswith(f"{path}:2: settings.checks") and "unknown checks ['linkz']" in p for p in found), found
    path.write_text("units:\n  - id: u1\n    name: 单位\n    receivers:\n"
                    "      - {id: g, url: 'json://127.0.0.1:9/x', on: [red, bogus]}\n", encoding="utf-8")
    found = problems_of(path)
    assert any(p.startswith(f"{path}:5: units[0].receivers[0].on") and "unknown event kinds ['bogus']" in p
               for p in found), found
    path.write_text("settings:\n  checks: [links, calendar]\n", encoding="utf-8")
    assert [c.name for c in build_checks(load(path))] == ["links", "calendar"]


def test_the_registry_names_every_check_settings_can_choose() -> None:
    from monitor.checks.registry import CHECKS, OBSERVATION_CHECKS, build_checks, build_observation_checks
    from monitor.config import CHECK_NAMES

    inventory = load(EXAMPLE)
    assert [*CHECKS, *OBSERVATION_CHECKS] == list(CHECK_NAMES)
    built = [*build_checks(inventory), *build_observation_checks(inventory)]
    assert [c.name for c in built] == list(CHECK_NAMES)  # each check is built under its own name


OVERRIDE_YAML = """\
units:
  - {id: u1, name: 县交易中心}
sites:
  - id: s1
    name: 县公共资源交易网
    unit: u1
    homepage: http://127.0.0.1:9/
    columns:
      - id: zbgg
        name: 招标公告
        url: http://127.0.0.1:9/zbgg/
        category: 通知公告
        list: "table.jyxx > tbody > tr"
        date: td.rq
        date_format: "%d/%m/%Y"
      - id: zbjg
        name: 中标结果
        url: http://127.0.0.1:9/zbjg/
        category: 通知公告
"""


def test_column_override_becomes_the_target_parser(tmp_path: Path) -> None:
    from monitor.list_override import Override, from_parser

    path = tmp_path / "inv.yaml"
    path.write_text(OVERRIDE_YAML, encoding="utf-8")
    targets = {t.id: t for t in load(path).targets}
    assert from_parser(targets["zbgg"].parser) == Override("table.jyxx > tbody > tr", "td.rq", "%d/%m/%Y")
    assert targets["zbjg"].parser == "list"


@pytest.mark.parametrize(
    ("fields", "line", "field", "words"),
    [
        ('        list: "ul..list > li"\n', 13, "list", "CSS 选择器"),
        ('        list: "ul > li"\n        date: "/([0-9]+/"\n', 14, "date", "正则表达式"),
        ('        list: "ul > li"\n        date_format: "%Y-%m"\n', 14, "date_format", "%m and %d"),
        ('        date: span.time\n', 13, "date", "需要与 list"),
    ],
)
def test_column_override_problems_name_file_line_and_field(
    tmp_path: Path, fields: str, line: int, field: str, words: str,
) -> None:
    path = tmp_path / "inv.yaml"
    head = OVERRIDE_YAML.split("        list:")[0]
    path.write_text(head + fields, encoding="utf-8")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:{line}: sites[0].columns[0].{field}: ")
    assert words in problem


def test_excel_override_columns(tmp_path: Path) -> None:
    from monitor.list_override import Override, from_parser

    path = tmp_path / "清单.xlsx"
    header = [*HEADER, "列表选择器", "日期选择器", "日期格式"]
    _sheet(path, [
        header,
        ["1", "县交易中心", "交易网", "招标公告", "http://127.0.0.1:9/zbgg/", "通知公告", "table.jyxx tr", "td.rq",
         "%d/%m/%Y"],
        ["2", "", "", "中标结果", "http://127.0.0.1:9/zbjg/", "通知公告", "", "", ""],
    ])
    columns = [t for t in load(path).targets if t.kind == "column"]
    assert from_parser(columns[0].parser) == Override("table.jyxx tr", "td.rq", "%d/%m/%Y")
    assert columns[1].parser == "list"
    _sheet(path, [
        header,
        ["1", "县交易中心", "交易网", "招标公告", "http://127.0.0.1:9/zbgg/", "通知公告", "table..jyxx tr", "", ""],
    ])
    [problem] = problems_of(path)
    assert problem.startswith(f"{path} 工作表「栏目清单」第 2 行「列表选择器」列：无法解析的 CSS 选择器")
