"""``govwatch check-page URL``: fetch one page and print its health findings."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING

from monitor.addresses import network
from monitor.findings import one_line, quoted

if TYPE_CHECKING:
    from monitor.checks.page import PageReport

_SEV = {"严重": "【严重】", "一般": "【一般】", "敏感": "【敏感】"}
_KIND = {"hidden_link": "隐藏链接", "hidden_iframe": "隐藏框架", "hidden_text": "隐藏文字", "spam_block": "垃圾信息",
         "spam_link": "垃圾链接"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    cp = sub.add_parser("check-page", help="fetch one page: hidden links, soft 404, external links, wrong words")
    cp.add_argument("url")
    cp.add_argument("--json", action="store_true", help="print one JSON object")
    cp.add_argument("--site-id", help="site id for the per-site allow-list")
    cp.add_argument("--timeout", type=float, default=15.0)
    cp.add_argument("--allow-private", action="append", default=[], type=network, metavar="CIDR",
                    help="a private network the page may redirect into (政务外网), as fetch.allow_private")
    cp.add_argument("--dictionaries", help="dictionary directory (default: the shipped monitor/dictionaries)")


def run(args: argparse.Namespace) -> int:
    from monitor.checks.page import check_html, words
    from monitor.fetch import Fetcher, for_url

    dicts = words.load(args.dictionaries)

    async def go() -> int:
        async with Fetcher(for_url(args.url, tuple(args.allow_private), timeout_s=args.timeout)) as fetcher:
            result = await fetcher.fetch(args.url)
        report = check_html(result.text, result.final_url, dicts, site_id=args.site_id) if result.text else None
        if args.json:
            out: dict[str, object] = {
                "url": args.url, "final_url": result.final_url, "status": result.status,
                "fetch_ms": round(result.elapsed_ms, 1), "error": result.error, "detail": result.detail,
            }
            out.update((report.to_json() if report else {}) | {"url": args.url})
            print(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            print(f"页面：{args.url}（HTTP {result.status or '—'}，{result.elapsed_ms:.0f} 毫秒）")
            if report is None:
                print(f"无法读取页面：{result.detail or result.error or '无内容'}")
            else:
                _print_report(report)
        return 0 if report is not None else 1

    return asyncio.run(go())


def _print_report(r: PageReport) -> None:
    print(f"软404（页面显示不存在）：{'是 — ' + (r.soft404.reason or '') if r.soft404.is_soft404 else '否'}")
    print(f"暗链与垃圾信息：{len(r.hidden)} 处")
    for h in r.hidden:
        print(f"  [{_KIND.get(h.kind, h.kind)}] {h.reason}")
        print(f"      链接：{h.url or '—'}  文字：{quoted(h.text)}")
        print(f"      位置：{h.where}  隐藏方式：{h.style or '可见'}")
    print(f"外部非政府网站链接（需退出提示）：{len(r.external)} 个")
    for e in r.external[:50]:
        print(f"  {e.url}  {quoted(e.text)}  位置：{e.where}")
    print(f"错敏词：{len(r.words)} 处")
    for w in r.words:
        fix = f" → {w.correct}" if w.correct else ""
        note = f"（{w.note}）" if w.note else ""
        print(f"  {_SEV.get(w.severity, w.severity)}{w.category}：{w.word}{fix}{note}  …{one_line(w.context)}…")
