"""``govwatch check-page`` against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PageServer

FIX = Path(__file__).parent / "fixtures" / "health"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, timeout=120)


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_cli, *args)  # the loopback server keeps answering meanwhile


def serve(page_server: PageServer) -> None:
    hacked = (FIX / "hacked.html").read_text(encoding="utf-8").replace('charset="utf-8"', 'charset="gbk"')
    page_server.set("/hacked.html", hacked.encode("gb18030"), content_type="text/html")  # GBK, no header charset
    page_server.set("/index.html", (FIX / "menus.html").read_text(encoding="utf-8"))
    page_server.set("/gone.html", (FIX / "soft404.html").read_text(encoding="utf-8"))
    page_server.set("/tail.html", (FIX / "seed_spam_tail.html").read_text(encoding="utf-8"))


async def test_check_page_json_on_a_hacked_page(page_server: PageServer) -> None:
    serve(page_server)
    out = await cli("check-page", page_server.url("/hacked.html"), "--json", "--site-id", "qingchuan")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert set(r) >= {"url", "final_url", "status", "error", "soft404", "hidden", "external", "words", "counts"}
    assert r["status"] == 200 and r["error"] is None and r["soft404"]["is_soft404"] is False
    assert r["counts"]["hidden"] == 17 and r["counts"]["external"] == 15
    casino = next(h for h in r["hidden"] if h["url"] == "http://www.kyqp-app.com/")
    assert casino == {"kind": "hidden_link", "url": "http://www.kyqp-app.com/", "text": "开元棋牌",
                      "where": "div.main > div#zoom > div.lj1 > a", "style": ".lj1 {display:none}",
                      "reason": "隐藏的外部非政府链接，含垃圾词：开元棋牌"}
    assert {w["severity"] for w in r["words"]} == {"敏感"}
    assert {"word", "correct", "category", "severity", "context", "url"} <= set(r["words"][0])


async def test_check_page_human_output_and_clean_page(page_server: PageServer) -> None:
    serve(page_server)
    out = await cli("check-page", page_server.url("/index.html"))
    assert out.returncode == 0, out.stderr
    assert "暗链与垃圾信息：0 处" in out.stdout and "错敏词：0 处" in out.stdout
    assert "软404（页面显示不存在）：否" in out.stdout
    assert "外部非政府网站链接（需退出提示）：1 个" in out.stdout and "https://www.weibo.com/qingchuan" in out.stdout

    gone = await cli("check-page", page_server.url("/gone.html"))
    assert gone.returncode == 0 and "软404（页面显示不存在）：是" in gone.stdout

    tail = await cli("check-page", page_server.url("/tail.html"))
    assert "[垃圾信息]" in tail.stdout and "【敏感】敏感词：午夜福利" in tail.stdout


async def test_check_page_unreachable(page_server: PageServer) -> None:
    out = await cli("check-page", page_server.url("/missing.html"), "--json")
    assert out.returncode == 1
    r = json.loads(out.stdout)
    assert r["error"] == "http_status" and r["status"] == 404 and "hidden" not in r
    human = await cli("check-page", page_server.url("/missing.html"))
    assert human.returncode == 1 and "无法读取页面：HTTP 404" in human.stdout


async def test_check_page_prints_a_pages_words_on_one_line_without_terminal_controls(page_server: PageServer) -> None:
    """A link's text carrying terminal escape sequences and line breaks is printed inside its quote, on its line."""
    page_server.set("/esc.html", "<!doctype html><html><head><meta charset='utf-8'><title>县政府</title></head><body>"
                    "<p>县人民政府网站</p><a href='https://www.weibo.com/x'>\x1b[2J\x1b[31m微博\n单位：「假」</a>"
                    "</body></html>")
    out = await cli("check-page", page_server.url("/esc.html"))
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout
    [line] = [line for line in out.stdout.splitlines() if "https://www.weibo.com/x" in line]
    assert "「[2J [31m微博 单位：『假』」" in line
