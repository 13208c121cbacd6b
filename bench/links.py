"""Crawl a loopback fleet of government sites with the link check, through the daemon's own runner, fetcher and store.

    python bench/links.py --sites 100 --links 200

Each site (its own port on 127.0.0.1) has a homepage carrying ``--links`` distinct links — navigation with
collapsed dropdowns, two columns, news, service pages (some 404, 500, soft 404 or a redirect loop), file
downloads (half of them refuse HEAD), special topics, external sites on 127.0.0.2 (some with an exit
notice) and four injected hidden spam links — plus two column list pages and their articles. The fleet
runs in its own process so its CPU is not counted; the daemon's and its parser process's (where the
page checks run) are. The column probes run first (untimed) so the crawler
finds the articles in the store. Prints a summary, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from bench.sweep import peak_rss_mb
from monitor import config, logs
from monitor.checks.links import LinksCheck, link_checker
from monitor.checks.runner import CheckRunner
from monitor.service import monitoring

PLACES = ("青溪", "云岭", "白川", "金源", "安阳", "永山", "宁江", "丰河", "清泉", "泰林",
          "长湖", "平桥", "和峰", "兴州", "富城", "瑞塘", "新浦", "东谷", "西冈", "南原")
SECTIONS = ("政务公开", "政务服务", "互动交流", "数据发布", "专题专栏", "走进{place}", "新闻中心")
SUBS = ("政府信息公开指南", "政府信息公开制度", "法定主动公开内容", "政府信息公开年报", "办事指南",
        "便民服务", "县长信箱", "在线访谈", "民意征集", "统计数据", "财政预决算", "重点领域", "政策解读",
        "机构职能", "领导信息", "人事信息", "规划计划", "应急管理", "公共资源交易", "价格收费", "乡村振兴",
        "营商环境", "历史沿革", "自然地理", "旅游资源", "视频新闻", "图片新闻", "部门动态")
SERVICES = ("个体工商户登记", "食品经营许可", "社会保障卡申领", "城乡居民医保参保", "不动产登记", "建设工程规划许可",
            "道路运输经营许可", "药品零售许可", "户籍迁移", "居住证办理", "残疾人证办理", "低保申请", "生育登记",
            "公积金提取", "退役军人优待证", "营业执照变更", "税务登记", "农机购置补贴", "林木采伐许可", "取水许可")
COLUMNS = (("gzdt", "工作动态", "动态要闻"), ("tzgg", "通知公告", "通知公告"))
ARTICLES_PER_COLUMN = 20
FRAME_LINKS = 1 + 7 + 7 * 4 + 5  # home, sections, dropdown entries, footer
CT = "text/html; charset=utf-8"
SOFT404 = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{site}</title></head><body><div class=\"nav\">"
           "<a href=\"/\">首页</a></div><div class=\"error-box\"><p>对不起，您访问的页面不存在或已被删除！</p>"
           "<p><a href=\"/\">返回首页</a></p></div></body></html>")


def place(si: int) -> str:
    return PLACES[si % len(PLACES)] + ("县" if si < len(PLACES) else f"{si // len(PLACES)}区")


def frame(si: int, title: str, body: str) -> str:
    p = place(si)
    nav = ['<ul class="nav"><li><a href="/">首页</a></li>']
    for k, sec in enumerate(SECTIONS):
        subs = "".join(f'<a href="/sec/{k}/{m}/index.html">{SUBS[(k * 4 + m) % len(SUBS)]}</a>' for m in range(4))
        nav.append(f'<li><a href="/sec/{k}/index.html">{sec.format(place=p)}</a>'
                   f'<div class="sub" style="display:none">{subs}</div></li>')
    nav.append("</ul>")
    foot = ('<div class="footer"><p><a href="/about/">关于本网</a> | <a href="/sitemap/">网站地图</a> | '
            '<a href="/contact/">联系我们</a> | <a href="/help/">使用帮助</a> | <a href="/privacy/">隐私声明</a></p>'
            f"<p>主办：{p}人民政府办公室　承办：{p}大数据中心　联系电话：0571-8888{si % 10000:04d}</p></div>")
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>'
            '<style>.nav li .sub{display:none;position:absolute}.nav li:hover .sub{display:block}'
            '.lj9{display:none}</style></head><body>'
            f'<div class="top">今天是2026年11月25日 星期三</div><div class="banner"><h1>{p}人民政府</h1></div>'
            + "".join(nav) + f'<div class="main">{body}</div>' + foot + "</body></html>")


def article_path(col: str, k: int, day: date) -> str:
    return f"/art/{col}/{day:%Y%m}/t{day:%Y%m%d}_{k}.html"


def articles(today: date) -> dict[str, list[tuple[str, str, date]]]:
    out = {}
    for col, name, _ in COLUMNS:
        days = [today - timedelta(days=2 * k) for k in range(ARTICLES_PER_COLUMN)]
        out[col] = [(article_path(col, k, day), f"关于{SERVICES[k % len(SERVICES)]}工作的{name}", day)
                    for k, day in enumerate(days)]
    return out


def site_pages(si: int, links: int, ext: str, today: date) -> tuple[dict[str, tuple[int, str, bytes]], dict[str, str]]:
    """path → (status, content type, body) for one site, and its special routes (path → kind)."""
    p = place(si)
    arts = articles(today)
    pages: dict[str, tuple[int, str, bytes]] = {}
    special: dict[str, str] = {}

    def html(path: str, text: str) -> None:
        pages[path] = (200, CT, text.encode())

    news = [a for col, _, _ in COLUMNS for a in arts[col][:5]]
    others = links - FRAME_LINKS - len(COLUMNS) - len(news) - 1  # the logo image
    n_ext, n_files, n_zt = 10, 20, 13
    n_services = max(others - n_ext - n_files - n_zt - 4, 0)
    services = []
    for k in range(n_services):
        path = f"/fw/{k}.html"
        title = f"{SERVICES[k % len(SERVICES)]}办事指南（{k // len(SERVICES) + 1}）"
        services.append((path, title))
        if k % 12 == 3:
            continue  # 404
        if k % 25 == 7:
            special[path] = "500"
        elif k % 25 == 11:
            pages[path] = (200, CT, SOFT404.format(site=f"{p}人民政府").encode())
        elif k % 50 == 17:
            special[path] = "loop"
        else:
            html(path, frame(si, title, f"<h1>{title}</h1><p>办理条件、办理材料、办理流程。</p>"))
    files = [(f"/files/{k}.{'pdf' if k % 2 else 'docx'}", f"附件{k + 1}：申请表") for k in range(n_files)]
    for k, (path, _) in enumerate(files):
        special[path] = "nohead" if k % 2 else "file"
    zt = [(f"/zt/{k}/index.html", f"专题{k + 1}") for k in range(n_zt)]
    for path, title in zt:
        html(path, frame(si, title, f"<h1>{title}</h1>"))
    body = ['<div class="news"><h2>要闻</h2><ul>']
    body += [f'<li><a href="{path}">{title}</a><span>{day:%m-%d}</span></li>' for path, title, day in news]
    body.append("</ul></div>")
    for col, name, _ in COLUMNS:
        body.append(f'<h3><a href="/col/{col}/index.html">{name}</a></h3>')
    body.append('<div class="bszn"><h3>办事服务</h3><ul>')
    body += [f'<li><a href="{path}">{title}</a></li>' for path, title in services]
    body.append('</ul></div><div class="xzzx"><h3>下载中心</h3><ul>')
    body += [f'<li><a href="{path}">{title}</a></li>' for path, title in files]
    body.append('</ul></div><div class="ztzl"><ul>')
    body += [f'<li><a href="{path}">{title}</a></li>' for path, title in zt]
    body.append('</ul></div><div class="yqlj"><img src="/images/logo.png" alt="网站标识">')
    for k in range(n_ext):
        onclick = ' onclick="return confirm(\'您即将离开本网站\')"' if k < 3 else ""
        body.append(f'<a href="{ext}/s{si}/{k}.html"{onclick}>合作媒体{k + 1}</a>')
    body.append(f'</div><div style="display:none"><a href="{ext}/spam/{si}/1">澳门新葡京娱乐城</a></div>'
                f'<p style="font-size:0"><a href="{ext}/spam/{si}/2">百家乐</a></p>'
                f'<div style="background-color:#fff"><a href="{ext}/spam/{si}/3" style="color:#fff">真人视讯</a></div>'
                f'<iframe src="{ext}/spam/{si}/count.html" width="0" height="0"></iframe>')
    html("/", frame(si, f"{p}人民政府门户网站", "".join(body)))
    for col, name, _ in COLUMNS:
        lis = "".join(f'<li><a href="{path}">{title}</a><span>{day}</span></li>' for path, title, day in arts[col])
        html(f"/col/{col}/index.html", frame(si, f"{name}_{p}人民政府", f'<ul class="list">{lis}</ul>'))
        for k, (path, title, day) in enumerate(arts[col]):
            text = "各部门要按步就班推进重点工作。" if si % 10 == 0 and k == 0 else "各部门要认真贯彻落实。"
            html(path, frame(si, title, f"<h1>{title}</h1><p>发布时间：{day}</p><div id=\"zoom\"><p>{text}</p></div>"))
    for path in ["/about/", "/sitemap/", "/contact/", "/help/", "/privacy/"] + [
            f"/sec/{k}/index.html" for k in range(len(SECTIONS))] + [
            f"/sec/{k}/{m}/index.html" for k in range(len(SECTIONS)) for m in range(4)]:
        html(path, frame(si, "栏目", "<p>栏目内容</p>"))
    pages["/images/logo.png"] = (200, "image/png", b"\x89PNG\r\n\x1a\n")
    return pages, special


async def serve(args: argparse.Namespace) -> None:
    """The fleet: every site on its own port, the external sites on 127.0.0.2; prints READY and a JSON line."""
    today = date.fromisoformat(args.today)
    socks = []
    for _ in range(args.sites):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ext_sock = socket.socket()
    ext_sock.bind(("127.0.0.2", 0))
    ext = f"http://127.0.0.2:{ext_sock.getsockname()[1]}"
    sites = {s.getsockname()[1]: site_pages(si, args.links, ext, today) for si, s in enumerate(socks)}

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        if port not in sites:
            return web.Response(status=200, text="外部网站", content_type="text/html")
        pages, special = sites[port]
        kind = special.get(request.path)
        if kind == "500":
            return web.Response(status=500, text="Internal Server Error")
        if kind == "loop" or special.get(request.path[:-1]) == "loop":
            loop = request.path[:-1] if request.path.endswith("x") else request.path + "x"  # a ↔ ax, for ever
            return web.Response(status=302, headers={"Location": loop})
        if kind in ("file", "nohead"):
            if kind == "nohead" and request.method == "HEAD":
                return web.Response(status=405)
            return web.Response(body=b"%PDF-1.4", content_type="application/octet-stream")
        page = pages.get(request.path)
        if page is None:
            return web.Response(status=404, text="<html><head><title>404 Not Found</title></head></html>",
                                content_type="text/html")
        status, ctype, body = page
        return web.Response(status=status, body=body, headers={"Content-Type": ctype})

    runner = web.ServerRunner(web.Server(handle, access_log=None), handle_signals=True)
    await runner.setup()
    for s in [*socks, ext_sock]:
        await web.SockSite(runner, s, backlog=1024).start()
    print("READY " + json.dumps({"ports": [s.getsockname()[1] for s in socks], "ext": ext}), flush=True)
    await asyncio.Event().wait()


def inventory(ports: list[int], folder: Path, args: argparse.Namespace) -> config.Inventory:
    units, sites = [], []
    for si, port in enumerate(ports):
        base = f"http://127.0.0.1:{port}"
        units.append({"id": f"u{si}", "name": f"{place(si)}人民政府办公室"})
        sites.append({"id": f"s{si}", "name": f"{place(si)}人民政府", "unit": f"u{si}", "homepage": base + "/",
                      "columns": [{"id": f"s{si}-{col}", "name": name, "url": f"{base}/col/{col}/index.html",
                                   "category": cat} for col, name, cat in COLUMNS]})
    data = {"settings": {"store": str(folder / "links.sqlite3"), "extract_workers": 1,
                         # the external sites' 127.0.0.2 plays the public internet
                         "fetch": {"per_host_interval": "0s", "timeout": "30s", "connections": 256,
                                   "allow_private": ["127.0.0.2/32"]},
                         "links": {"retry_after": f"{args.retry_after}s", "max_links": max(args.links, 500)}},
            "units": units, "sites": sites}
    return config.build(data, "bench", lambda loc: None)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def crawl(inv: config.Inventory, concurrency: int) -> dict[str, object]:
    async with monitoring(inv) as monitor:
        await monitor.sweep_once()  # the column probes: items in the store (untimed)
        check = LinksCheck()
        context = monitor.hooks.checks.context if monitor.hooks.checks else None
        assert context is not None
        monitor.hooks.checks = CheckRunner(context, lambda: monitor.clock(), monitor.book.report_many,
                                           lambda _: [check], inv, concurrency=concurrency)
        rss0 = peak_rss_mb()
        parsers = [w.process.pid for w in monitor.pool.workers]  # the page checks run there
        cpu0, wall0 = time.process_time() + sum(map(process_cpu_s, parsers)), time.perf_counter()
        await monitor.check_once()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() + sum(map(process_cpu_s, parsers)) - cpu0
        checker = link_checker(monitor.check_runner.context)
        found = Counter(k.finding.check for scope in monitor.findings.values() for k in scope.values())
        severity = Counter(str(k.finding.severity) for scope in monitor.findings.values() for k in scope.values())
        return {"wall_s": wall, "cpu_s": cpu, "links": len(checker.cache), "requests": checker.requests,
                "broken": found["broken_link"] + found["soft404"], "findings": dict(found),
                "severity": dict(severity), "rss_before_crawl_mb": rss0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--links", type=int, default=200, help="distinct links on each homepage")
    parser.add_argument("--concurrency", type=int, default=20, help="sites crawled at once (the check runner's)")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds before a failing link is tried again")
    parser.add_argument("--today", default="2026-11-25")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args))
        return
    logs.setup("warning")
    fleet = subprocess.Popen([sys.executable, __file__, "--serve", "--sites", str(args.sites), "--links",
                              str(args.links), "--today", args.today], stdout=subprocess.PIPE, text=True)
    line = fleet.stdout.readline() if fleet.stdout else ""
    if not line.startswith("READY "):
        fleet.kill()
        raise SystemExit(f"fleet did not start: {line!r}")
    ports = json.loads(line[6:])["ports"]
    try:
        with tempfile.TemporaryDirectory(prefix="govwatch-links-") as folder:
            result = asyncio.run(crawl(inventory(ports, Path(folder), args), args.concurrency))
    finally:
        fleet.terminate()
        fleet.wait(timeout=30)
    pages = args.sites * (1 + len(COLUMNS) + 5)
    figures = {
        "sites": args.sites, "links_per_homepage": args.links, "pages": pages, "links_checked": result["links"],
        "requests": result["requests"], "broken": result["broken"], "wall_s": round(result["wall_s"], 2),
        "links_per_s": round(result["links"] / result["wall_s"], 1),
        "cpu_s": round(result["cpu_s"], 2), "cpu_per_page_ms": round(1000 * result["cpu_s"] / pages, 1),
        "cpu_per_link_ms": round(1000 * result["cpu_s"] / result["links"], 2),
        "rss_before_crawl_mb": round(result["rss_before_crawl_mb"], 1), "peak_rss_mb": round(peak_rss_mb(), 1),
        "retry_after_s": args.retry_after, "concurrency": args.concurrency,
        "findings": result["findings"], "severity": result["severity"],
    }
    print(f"crawled {pages} pages on {args.sites} sites, checked {figures['links_checked']} links "
          f"({figures['requests']} requests, {figures['broken']} broken) in {figures['wall_s']} s: "
          f"{figures['links_per_s']} links/s; CPU {figures['cpu_s']} s = {figures['cpu_per_page_ms']} ms per page; "
          f"peak RSS {figures['peak_rss_mb']} MB")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
