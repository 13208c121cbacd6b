"""``govwatch`` command line: run, check-config, probe, demo, import-excel."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from datetime import date
from pathlib import Path

from monitor import __version__, config
from monitor.evaluate import TZ


def _load_or_report(path: str) -> config.Inventory | None:
    try:
        return config.load(path)
    except config.ConfigError as exc:
        print(f"{len(exc.problems)} problem(s) in {path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def cmd_check_config(args: argparse.Namespace) -> int:
    inventory = _load_or_report(args.file)
    if inventory is None:
        return 2
    kinds = {k: sum(1 for t in inventory.targets if t.kind == k) for k in ("column", "homepage")}
    print(f"{args.file}: OK — {len(inventory.model.units)} units, {len(inventory.model.sites)} sites, "
          f"{kinds['column']} columns, {kinds['homepage']} homepages")
    return 0


def cmd_import_excel(args: argparse.Namespace) -> int:
    from ruamel.yaml import YAML

    from monitor.excel import read_inventory

    try:
        data, locate = read_inventory(Path(args.file))
        config.build(data, args.file, locate)
    except config.ConfigError as exc:
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    yaml = YAML()
    yaml.allow_unicode = True
    with open(args.output, "w", encoding="utf-8") as out:
        yaml.dump(data, out)
    print(f"wrote {args.output}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from datetime import datetime

    from monitor.extract_pool import ExtractPool
    from monitor.fetch import Fetcher, FetchSettings
    from monitor.probe import read

    async def go() -> int:
        settings = FetchSettings(timeout_s=args.timeout, user_agent=args.user_agent or FetchSettings.user_agent)
        async with Fetcher(settings) as fetcher:
            result = await fetcher.fetch(args.url)
        at = datetime.now(TZ)
        if args.today:
            at = datetime.combine(date.fromisoformat(args.today), at.timetz())
        listing = await read(ExtractPool(workers=0), result, at)
        out = {
            "url": args.url, "final_url": result.final_url, "status": result.status,
            "fetch_ms": round(result.elapsed_ms, 1), "charset": result.charset,
            "error": result.error, "detail": result.detail,
            "newest_date": listing.newest_date.isoformat() if listing and listing.newest_date else None,
            "reason": (listing.reason if listing else result.error),
            "signature": listing.signature if listing else None,
            "items": [
                {"title": i.title, "url": i.url, "date": i.date.isoformat() if i.date else None, "pinned": i.pinned}
                for i in (listing.items if listing else ())
            ],
        }
        if args.json:
            print(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            print(f"{args.url}: HTTP {result.status} in {out['fetch_ms']} ms ({result.charset})")
            print(f"newest item date: {out['newest_date'] or '—'}" + (f" ({out['reason']})" if out["reason"] else ""))
            for item in out["items"][:20]:
                print(f"  {item['date'] or '          '}  {'[置顶] ' if item['pinned'] else ''}{item['title']}")
        return 0 if result.ok else 1

    return asyncio.run(go())


def cmd_run(args: argparse.Namespace) -> int:
    from monitor import logs
    from monitor.service import run_service

    inventory = _load_or_report(args.config)
    if inventory is None:
        print("refusing to start: fix the inventory first (govwatch check-config FILE)", file=sys.stderr)
        return 2
    logs.setup(args.log_level)
    return asyncio.run(run_service(inventory, store_path=args.store, listen=args.listen))


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor import logs
    from monitor.demo import run_demo

    logs.setup("warning" if args.once else "info")
    return asyncio.run(run_demo(once=args.once, listen=args.listen, workdir=args.dir))


def wait_for_signal() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="govwatch", description="政府网站与政务新媒体监测预警 — monitoring daemon")
    p.add_argument("--version", action="version", version=f"govwatch {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", required=True, help="inventory file (.yaml or .xlsx)")
    run.add_argument("--store", help="SQLite file (default: settings.store)")
    run.add_argument("--listen", help="board address HOST:PORT (default: settings.listen)")
    run.add_argument("--log-level", default="info")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate an inventory and list every problem")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)

    imp = sub.add_parser("import-excel", help="convert an office spreadsheet (单位, 网站, 栏目, 地址, 类别) to YAML")
    imp.add_argument("file")
    imp.add_argument("-o", "--output", required=True)
    imp.set_defaults(func=cmd_import_excel)

    pr = sub.add_parser("probe", help="fetch one column list page and print its newest item date")
    pr.add_argument("url")
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    pr.add_argument("--timeout", type=float, default=15.0)
    pr.add_argument("--user-agent")
    pr.add_argument("--today", help="YYYY-MM-DD: the date used to infer years of year-less dates")
    pr.set_defaults(func=cmd_probe)

    demo = sub.add_parser("demo", help="a loopback fleet of sites watched by the daemon, with its board")
    demo.add_argument("--once", action="store_true", help="one sweep, print the state table, exit")
    demo.add_argument("--listen", default="127.0.0.1:8470", help="board address HOST:PORT")
    demo.add_argument("--dir", help="working directory for the demo's inventory and store (default: temporary)")
    demo.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
