"""``govwatch report --demo``: a scripted 2026 Q4 through the real daemon and store, checked by hand.

The script (monitor.demo.quarter.scenario), probed daily at 09:00 from 21 September. Rules: a news
column (and a homepage, an account) with newest item D is yellow from D+11 and red from D+15; a
6-month column red from the day after D + 6 months, yellow 30 days before; a 12-month one likewise
with 60 days.

- 青溪县人民政府办公室: 工作动态 newest 10-21 until 11-08 → yellow 11-01, red 11-05, green 11-08: −3.
  人事任免 newest 2025-10-11 → yellow already on 09-21, red 10-12, green 11-20: −5 (人事 goes under
  规划计划). 8 points, 92, 合格. Its 通知公告 item of 10-31 is re-dated 11-11: a yellow finding, no veto.
- 青溪县教育局: 政策文件 newest 04-10 → yellow on 09-21, red 10-11, green 10-25: −4. The homepage's 要闻
  stop on 12-04 → yellow 12-15, red 12-19, still red on 12-31: 首页不更新, 不合格 (96 points; 2 warnings).
  Account 青溪教育 posts until 11-01, again from 11-25: red 11-16…11-25 → 不合格.
- 青溪县卫生健康局: three news columns stop after 10-31 until 11-26 (−3 each); two notice columns red all
  along (−4 each); 17 points, 83; five red at once from 11-15: 栏目不更新, 不合格. Warnings: 3 + 2 + the
  homepage (its newest is the news columns').
- 青溪县市场监督管理局: an item claiming 12-01 goes online on 12-10, after the probes of 12-04…12-09 showed
  the list without it → the honest-dates check's back-dated finding, red, open to the end: 不合格, 100 points.
- 青溪县统计局: on time, 100, 合格.
Sites 2/5 合格 (40.00%); accounts 2/3 (66.67%).
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from monitor import cli
from monitor.demo.quarter import run_demo_quarter
from monitor.report.score import Quarter


async def test_demo_quarter_opens_with_the_hand_computed_figures(tmp_path: Path) -> None:
    report, paths = await run_demo_quarter(Quarter.parse("2026Q4"), tmp_path)
    assert sorted(p.name for p in (tmp_path / "demo-2026Q4").iterdir()) == ["govwatch.sqlite3", "inventory.yaml"]
    assert [p.name for p in paths] == ["score-2026Q4.xlsx", "score-2026Q4.html", "notice-2026Q4.txt"]
    assert (report.sites_passed, len(report.sites), report.accounts_passed, len(report.accounts)) == (2, 5, 2, 3)
    book = load_workbook(paths[0])
    assert book.sheetnames == ["季度得分表", "预警明细", "单项否决", "政务新媒体"]
    sheet = book["季度得分表"]
    rows = {r[0]: r[1:10] for r in sheet.iter_rows(min_row=5, max_row=9, values_only=True)}
    #          工作动态 通知公告 部门文件 规划计划 扣分 得分 预警 结论, 说明
    assert rows == {
        "青溪县人民政府办公室": (3, 0, 0, 5, 8, 92, 2, "合格", None),
        "青溪县教育局": (0, 0, 4, 0, 4, 96, 2, "不合格",
                        "青溪县教育局网站：首页不更新；账号青溪教育（微信公众号）：不合格"),
        "青溪县卫生健康局": (9, 8, 0, 0, 17, 83, 6, "不合格", "青溪县卫生健康局网站：栏目不更新"),
        "青溪县市场监督管理局": (0, 0, 0, 0, 0, 100, 0, "不合格", "青溪县市场监督管理局网站：倒签发稿日期"),
        "青溪县统计局": (0, 0, 0, 0, 0, 100, 0, "合格", None),
    }
    assert sheet["A10"].value == "网站合格率：40.00%（2/5 个网站合格）；政务新媒体合格率：66.67%（2/3 个账号合格）"

    details = [r for r in book["预警明细"].iter_rows(min_row=2, values_only=True)]
    # red from the deadline crossing (midnight after the last allowed day), not from the 09:00 probe that saw it
    news = next(r for r in details if r[2] == "工作动态")
    assert news[5:] == ("2026-10-21", "2026-11-01 09:00", "2026-11-05 00:00", "2026-11-08 09:00", 4, 3, None)
    home = next(r for r in details if r[1] == "青溪县教育局网站" and r[3] == "首页")
    assert home[5:] == ("2026-12-04", "2026-12-15 09:00", "2026-12-19 00:00", "未恢复", 13, 0, None)
    # a notice column already overdue at govwatch's first look: dated from its deadline, marked
    notices = next(r for r in details if r[1] == "青溪县卫生健康局网站" and r[2] == "通知公告")
    assert notices[5:] == ("2026-01-24", "2026-07-25 00:00", "2026-07-25 00:00", "未恢复", 160, 4,
                           "首次监测时已超期（2026-09-21 09:00）")

    vetoes = {(r[1], r[2]): r[3] for r in book["单项否决"].iter_rows(min_row=2, values_only=True)}
    assert set(vetoes) == {("青溪县教育局网站", "首页不更新"), ("青溪县卫生健康局网站", "栏目不更新"),
                           ("青溪县市场监督管理局网站", "倒签发稿日期")}
    assert vetoes[("青溪县卫生健康局网站", "栏目不更新")].startswith("2026-11-15 09:00 起同时有 5 个")
    forged = vetoes[("青溪县市场监督管理局网站", "倒签发稿日期")]
    # the back-dating evidence, each fact once in its cell (the site is named by the row)
    assert forged.startswith("「监管动态」栏目「县市场监管局开展冬春季食品安全专项检查」疑似伪造发稿日期"
                             "（2026-12-10 09:00 发现，截至统计时仍存在）。标注日期 2026-12-01，"
                             "但 2026-12-09 09:00 检测时栏目中尚无此条，2026-12-10 09:00 才首次出现，晚 9 天。"
                             "信息地址："), forged
    for fact in ("2026-12-01", "首次出现", "疑似", "县市场监管局开展冬春季食品安全专项检查", "青溪县市场监督管理局"):
        assert forged.count(fact) <= 1, (fact, forged)

    accounts = {r[1]: r[3:] for r in book["政务新媒体"].iter_rows(min_row=2, values_only=True)}
    assert accounts == {
        "青溪发布（微博）": ("合格", None),
        "青溪教育（微信公众号）": ("不合格", "【单项否决·内容不更新】2026-11-16 00:00 起超过更新期限未更新"
                                           "（最新发布 2026-11-01），2026-11-25 09:00 恢复更新"),
        "健康青溪（抖音）": ("合格", None),
    }
    notice = paths[2].read_text(encoding="utf-8")
    assert "其中，青溪县统计局共 1 个单位在本次监测中未发现问题。" in notice
    assert "（一）青溪县人民政府办公室：季度扣分 8 分，季度得分 92 分，合格。" in notice
    assert "发布日期由" not in notice  # the re-dated notice is a yellow finding, not in the score


def test_report_needs_a_config_or_demo(capsys) -> None:
    assert cli.main(["report", "--quarter", "2026Q4"]) == 2
    assert "--demo" in capsys.readouterr().err
