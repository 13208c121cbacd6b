"""Inventory values that would freeze or flood the daemon are refused by check-config with file, line, field and
the allowed range; hostile files (alias bombs, zip bombs, huge sheets) are refused before they cost memory."""

from __future__ import annotations

import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import xlsxwriter

from monitor.config import ConfigError, ConfigProblem, load

SITE = """\
units:
  - {id: u1, name: 县政府办}
sites:
  - id: s1
    name: 县政府网站
    unit: u1
    homepage: http://127.0.0.1:9/
    columns:
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(path)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(("settings", "line", "field", "allowed"), [
    ("links: {interval: 0s}", 2, "settings.links.interval", "1s…30d"),
    ("accounts: {matrix_interval: 0s}", 2, "settings.accounts.matrix_interval", "1s…30d"),
    ("accounts: {interaction_interval: 0s}", 2, "settings.accounts.interaction_interval", "1s…30d"),
    ("alerts: {escalate_after: 0s}", 2, "settings.alerts.escalate_after", "1s…10y"),
    ("fetch: {timeout: 0s}", 2, "settings.fetch.timeout", "1s…5min"),
    ("availability: {interval: 0s}", 2, "settings.availability.interval", "1s…72min"),
    ("bridges: {interval: 0s}", 2, "settings.bridges.interval", "1s…30d"),
    ("alerts:\n    send_timeout: 1h", 3, "settings.alerts.send_timeout", "1s…5min"),
])
def test_a_zero_interval_or_timeout_is_refused_with_its_line_and_range(
    tmp_path: Path, settings: str, line: int, field: str, allowed: str,
) -> None:
    path = tmp_path / "inv.yaml"
    column = "      - {name: 通知, url: http://127.0.0.1:9/a, category: 通知}\n"
    path.write_text(f"settings:\n  {settings}\n" + SITE + column, encoding="utf-8")
    found = problems_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:{line}: {field}: ") and allowed in found[0], found


def test_a_page_size_limit_beyond_100_mb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("settings:\n  fetch: {max_bytes: 10000000000}\n", encoding="utf-8")
    assert problems_of(path) == [f"{path}:2: settings.fetch.max_bytes: Input should be less than or equal to "
                                 "104857600 (got 10000000000)"]


def test_a_listen_port_beyond_65535_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("settings:\n  listen: 0.0.0.0:99999\n" + SITE, encoding="utf-8")
    assert problems_of(path) == [f"{path}:2: settings.listen: port 99999 is outside 0…65535; write host:port, e.g. "
                                 "127.0.0.1:8470 (0: any free port)"]


def test_every_problem_comes_in_one_round_settings_categories_and_columns(tmp_path: Path) -> None:
    """A bad setting does not hide the columns' problems: all are listed, in the file's order."""
    path = tmp_path / "inv.yaml"
    path.write_text("settings:\n  fetch: {timeout: 0s}\n  listen: 127.0.0.1:70000\n"
                    "categories:\n  动态要闻: {lead: 20d}\n" + SITE
                    + "      - {name: 通知, url: 'http://127.0.0.1:9/a b', category: 通知, interval: 0s}\n"
                    "      - {name: 要闻, url: http://127.0.0.1:9/n, category: 动态要闻, deadline: 3d}\n"
                    "      - {name: 公告, url: 'http://127.0.0.1:99999/', category: 通知}\n",
                    encoding="utf-8")
    found = problems_of(path)
    assert [p.split(": ")[0:2] for p in found] == [
        [f"{path}:2", "settings.fetch.timeout"], [f"{path}:3", "settings.listen"],
        [f"{path}:5", "categories.动态要闻.lead"],
        [f"{path}:14", "sites[0].columns[0].interval"], [f"{path}:14", "sites[0].columns[0].url"],
        [f"{path}:15", "sites[0].columns[1].deadline"], [f"{path}:16", "sites[0].columns[2].url"]]
    assert "lead 20d is not shorter than deadline 2w" in found[2]
    assert "lead 20d is not shorter than deadline 3d (the lead is 动态要闻's)" in found[5]
    assert "without spaces" in found[4]


def test_lead_equal_to_the_deadline_is_refused_for_an_account(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("units:\n  - {id: u1, name: 县政府办}\naccounts:\n"
                    "  - {id: a1, unit: u1, platform: 微博, name: 青溪发布, deadline: 7d, lead: 1w,\n"
                    "     source: {kind: rss, url: http://127.0.0.1:9/feed}}\n", encoding="utf-8")
    found = problems_of(path)
    assert found == [f"{path}:4: accounts[0].lead: lead 1w is not shorter than deadline 1w: yellow must come before "
                     "red; write a lead shorter than the deadline"]


def test_a_quoted_value_is_cut_short(tmp_path: Path) -> None:
    """A megabyte in a field is not a megabyte in the error: the quote is cut, the advice kept."""
    path = tmp_path / "inv.yaml"
    path.write_text(SITE + f"      - {{name: 通知, url: 'http://127.0.0.1:9/ {'x' * 1_000_000}', category: 通知,\n"
                    f"         interval: '{'9' * 100_000}'}}\n"
                    f"accounts:\n  - {{id: a1, unit: u1, platform: '{'微' * 100_000}', name: 青溪发布}}\n",
                    encoding="utf-8")
    found = problems_of(path)
    assert len(found) == 3 and all(len(p) < 700 for p in found), [len(p) for p in found]
    assert "…" in found[0] and found[0].endswith("e.g. http://www.example.gov.cn/col/)")


def _limited(megabytes: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (megabytes << 20, megabytes << 20))
    return limit


def test_a_yaml_alias_bomb_is_refused_within_a_small_memory_limit(tmp_path: Path) -> None:
    """Nine lists, each nine aliases of the one before: 9**9 values from a few hundred bytes. check-config refuses it
    (without expanding it) under a 1 GB address-space limit; it used to take 2.8 GB."""
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size < 500
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "check-config", str(path)], capture_output=True,
                          text=True, timeout=120, preexec_fn=_limited(1024))
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr == (f"1 problem(s) in {path}:\n  {path}: its aliases (&name … *name) expand to more than "
                           "2,000,000 values, refused (an alias bomb?); write the entries out or use fewer aliases\n")


def test_aliases_that_expand_modestly_still_load(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("settings:\n  fetch: &f {timeout: 5s}\n" + SITE
                    + "".join(f"      - {{name: 栏目{i}, url: http://127.0.0.1:9/{i}, category: 通知}}\n"
                              for i in range(3)), encoding="utf-8")
    assert len(load(path).targets) == 4


@pytest.mark.parametrize(("name", "depth"), [("deep.yaml", 50_000), ("deep.json", 50_000), ("deep.json", 900)])
def test_an_inventory_nested_too_deeply_is_a_problem_not_a_crash(tmp_path: Path, name: str, depth: int) -> None:
    """Past the parser's depth (YAML, JSON), or within it but past the validation's (900 levels of JSON)."""
    path = tmp_path / name
    path.write_text('{"units": ' + "[" * depth + "]" * depth + "}\n", encoding="utf-8")
    assert problems_of(path) == [f"{path}: nested too deeply; an inventory needs a few levels (sites: → "
                                 "columns: → fields)"]


def _sheet(path: Path, rows: list[list[str]], far_row: int | None = None) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("栏目清单")
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    if far_row is not None:
        sheet.write(far_row, 0, "x")
    book.close()
    return path


def _import(path: Path, megabytes: int = 1024) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", "import-excel", str(path), "-o",
                           str(path.with_suffix(".yaml"))], capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited(megabytes))


HEADER = ["单位", "网站", "栏目", "地址", "类别"]


def test_an_xlsx_zip_bomb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A sheet whose one shared string inflates from a third of a megabyte to 400 MB: refused in Chinese under a
    512 MB address-space limit (the reader used to hold it twice)."""
    small = _sheet(tmp_path / "small.xlsx", [HEADER, ["县政府办", "县政府网站", "通知", "BOMB", "通知"]])
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename != "xl/sharedStrings.xml":
                dst.writestr(info.filename, data)
                continue
            head, tail = data.split(b"BOMB")
            with dst.open("xl/sharedStrings.xml", "w") as out:
                out.write(head)
                for _ in range(400):
                    out.write(b"A" * (1 << 20))
                out.write(tail)
    assert bomb.stat().st_size < 1 << 20
    done = _import(bomb, 512)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr == (f"1 problem(s) in {bomb}:\n  {bomb}: 文件解压后超过 64 MB（表格过大，或是“压缩炸弹”），"
                           "已拒绝读取：请删去多余的行和工作表，或把清单分成几个文件"
                           "（xl/sharedStrings.xml inflates beyond the limit）\n")


def test_a_sheet_of_too_many_rows_is_refused_before_its_cells_are_read(tmp_path: Path) -> None:
    path = _sheet(tmp_path / "long.xlsx", [HEADER], far_row=150_000)
    assert problems_of(path) == [f"{path}: 表格有 150,001 行，超过上限 100,000 行：请删去空行，或把清单分成几个文件"
                                 "（150,001 rows, over 100,000）"]


def test_at_most_100_problems_are_printed_then_a_count(tmp_path: Path) -> None:
    rows = [HEADER] + [["县政府办", "县政府网站", f"栏目{i}", f"not a url {i}", "通知"] for i in range(250)]
    done = _import(_sheet(tmp_path / "bad.xlsx", rows))
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and lines[0] == f"250 problem(s) in {tmp_path / 'bad.xlsx'}:"
    assert len(lines) == 102 and lines[-1] == "  … 另有 150 个问题未列出（and 150 more problem(s)）"
    assert lines[1].endswith("第 2 行「地址」列：“not a url 0”不是完整网址，请填写以 http:// 或 https:// 开头的地址，"
                             "如 http://www.example.gov.cn/col/")


def test_a_config_error_lists_100_problems_and_counts_the_rest() -> None:
    """What check-config prints, the daemon's reload_rejected log line and the error's own text all stop at 100."""
    error = ConfigError([ConfigProblem("inv.yaml", n, "sites", f"problem {n}") for n in range(1, 2001)])
    shown, rest = error.listed()
    assert (len(shown), rest) == (100, 1900) and shown[-1] == "inv.yaml:100: sites: problem 100"
    assert len(str(error).splitlines()) == 100
