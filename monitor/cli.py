"""``govwatch`` command line: run, check-config, probe, demo, import-excel, import-accounts, check-accounts."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor import __version__, config
from monitor.addresses import network
from monitor.evaluate import TZ
from monitor.findings import one_line
from monitor.model import TargetKind
from monitor.store.location import is_postgres

if TYPE_CHECKING:
    from monitor.report.score import Quarter, Report, Scoring
    from monitor.store import Store


def _load_or_report(path: str) -> config.Inventory | None:
    try:
        return config.load(path)
    except config.ConfigError as exc:
        _report_problems(path, exc)
        return None


def _report_problems(path: str, exc: config.ConfigError) -> None:
    """Every problem of a file under one header: ``N problem(s) in FILE:``."""
    print(f"{len(exc.problems)} problem(s) in {path}:", file=sys.stderr)
    _print_problems(exc)


def _print_problems(exc: config.ConfigError) -> None:
    shown, rest = exc.listed()
    for problem in shown:
        print(f"  {problem}", file=sys.stderr)
    if rest:
        print(f"  … 另有 {rest} 个问题未列出（and {rest} more problem(s)）", file=sys.stderr)


def _dump_yaml(data: object, output: str | None) -> None:
    """YAML with Chinese as written, to a file or to standard output."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.allow_unicode = True
    if output is None:
        yaml.dump(data, sys.stdout)
        return
    with open(output, "w", encoding="utf-8") as out:
        yaml.dump(data, out)


def cmd_check_config(args: argparse.Namespace) -> int:
    inventory = _load_or_report(args.file)
    if inventory is None:
        return 2
    kinds = {k: sum(1 for t in inventory.targets if t.kind == k) for k in TargetKind}
    print(f"{args.file}: OK — {len(inventory.model.units)} units, {len(inventory.model.sites)} sites, "
          f"{kinds['column']} columns, {kinds['homepage']} homepages"
          + (f", {len(inventory.model.accounts)} accounts ({kinds['account']} probed)" if inventory.model.accounts
             else ""))
    _say_if_no_browser(inventory)
    _say_if_secrets_are_public(Path(args.file), inventory)
    return 0


def _say_if_secrets_are_public(path: Path, inventory: config.Inventory) -> None:
    """An inventory that writes secrets and that every user of the machine may read: valid, but say so."""
    from monitor.config.credentials import secrets_written

    places, mode = secrets_written(inventory.model), path.stat().st_mode & 0o777
    if places and mode & 0o004:
        print(f"注意：{path} 写有密钥（{'、'.join(places)}），但本机所有用户都可读取（权限 {mode:o}）。"
              f"请改为仅服务可读：sudo chgrp govwatch {path} && sudo chmod 0640 {path}（见 README“作为服务运行”）。"
              f" Warning: {path} holds secrets and is world-readable; make it 0640 root:govwatch.", file=sys.stderr)


def _say_if_no_browser(inventory: config.Inventory) -> None:
    """Columns marked ``render: browser`` where no browser can render them: valid, but unknown until it is there."""
    from monitor.daemon import render_settings
    from monitor.render import missing

    rendered = [t.id for t in inventory.targets if t.render]
    if rendered and (why := missing(render_settings(inventory).chromium)) is not None:
        shown = ", ".join(rendered[:10]) + (f" … (共 {len(rendered)} 个)" if len(rendered) > 10 else "")
        print(f"注意：{len(rendered)} 个栏目标记为 render: browser（{shown}），{why}；安装前这些栏目的状态为未知")


def cmd_import_excel(args: argparse.Namespace) -> int:
    from monitor.config.excel import load_sheet

    try:
        data, _ = load_sheet(Path(args.file))
    except config.ConfigError as exc:
        _report_problems(args.file, exc)
        return 2
    _dump_yaml(data, args.output)
    print(f"wrote {args.output}")
    return 0


def cmd_import_accounts(args: argparse.Namespace) -> int:
    """An office's list of new-media accounts (序号, 单位名称, 新媒体账号名称, 类型) as inventory YAML."""
    from monitor.config.account_list import read_accounts, to_inventory

    try:
        data = to_inventory(read_accounts(Path(args.file)), args.status)
    except config.ConfigError as exc:
        _print_problems(exc)
        return 2
    _dump_yaml(data, args.output)
    if args.output:
        print(f"wrote {args.output}: {len(data['accounts'])} 个账号，{len(data['units'])} 个单位")
    return 0


def cmd_check_accounts(args: argparse.Namespace) -> int:
    """Accounts found (same Excel layout) that the inventory does not register: 未备案, per unit. Exit 1 if any."""
    from monitor.config.account_list import read_accounts, unregistered

    inventory = _load_or_report(args.config)
    if inventory is None:
        return 2
    try:
        found = read_accounts(Path(args.discovered))
    except config.ConfigError as exc:
        _print_problems(exc)
        return 2
    findings = unregistered(inventory.model, found)
    for f in findings:
        where = f"{args.discovered}:{f.row.row}"
        print(f"{where}\t{f.unit_id or '—'}\t{f.row.unit}\t{f.row.platform}\t{f.row.name}\t{f.message}")
    print(f"共核对 {len(found)} 个账号，未备案 {len(findings)} 个")
    if args.notify and findings:
        _notify_unregistered(args, [(f.unit_id, f.row.unit, f.row.platform, f.row.name) for f in findings])
    return 1 if findings else 0


def _notify_unregistered(args: argparse.Namespace, findings: list[tuple[str | None, str, str, str]]) -> None:
    """Queue the findings in the store's outbox for the units' receivers; the running daemon sends them."""
    from datetime import datetime

    from alerts.routing import unregistered_items
    from monitor.records import OutboxRecord

    async def work(store: Store, inventory: config.Inventory) -> int:
        units = {u.id: u for u in inventory.model.units}
        items = unregistered_items(findings, units, inventory.settings.alerts, datetime.now(TZ))
        await store.write([OutboxRecord(tuple(items))])
        print(f"已加入待发通知 {len(items)} 条 (queued; a running daemon sends them within 30 s; "
              "an account already notified is not notified again)")
        return 0

    _with_store(args, work)


def cmd_probe(args: argparse.Namespace) -> int:
    from datetime import datetime

    from monitor import list_override as override
    from monitor import logs
    from monitor.extract_pool import ExtractPool
    from monitor.fetch import Fetcher, FetchSettings, for_url
    from monitor.probe import read
    from monitor.render import RenderSettings, missing
    from monitor.render.client import Renderer

    if args.render and (why := missing()) is not None:
        print(f"govwatch probe --render browser: {why}", file=sys.stderr)
        return 2
    logs.setup("warning")  # the renderer's log lines go to stderr, never into the printed result

    parser = args.parser
    if args.list or args.date or args.date_format:
        trial = override.Override(args.list or "", args.date, args.date_format)
        found = override.problems(trial)
        if not args.list:
            found.append(("list", "--date / --date-format 需要与 --list（列表每一行的 CSS 选择器）一起使用"))
        for name, message in found:
            print(f"--{name.replace('_', '-')}: {message}", file=sys.stderr)
        if found:
            return 2
        parser = trial.as_parser()

    async def go() -> int:
        user_agent = args.user_agent or FetchSettings.user_agent
        if args.render:  # the page as a browser shows it after its scripts ran (a list built by script)
            renderer = Renderer(RenderSettings(timeout_s=args.timeout, user_agent=user_agent))
            try:
                result = await renderer.render(args.url)
            finally:
                await renderer.close()
        else:
            settings = for_url(args.url, tuple(args.allow_private), timeout_s=args.timeout, user_agent=user_agent)
            async with Fetcher(settings) as fetcher:
                result = await fetcher.fetch(args.url)
        at = datetime.now(TZ)
        if args.today:
            at = datetime.combine(date.fromisoformat(args.today), at.timetz())
        listing = await read(ExtractPool(workers=0), result, at, parser)
        out = {
            "url": args.url, "render": args.render, "final_url": result.final_url, "status": result.status,
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
        explained = None
        if args.explain and result.ok and not result.not_modified:
            from monitor.extract.explain import explanation_json, explanation_lines
            from monitor.extract.listpage import explain_list

            explained = explain_list(result.text or "", result.final_url, at.astimezone(TZ).date())
            out["explain"] = explanation_json(explained)
        if args.json:
            print(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            how = "rendered in the browser" if args.render else "fetched"
            print(f"{args.url}: HTTP {result.status}, {how} in {out['fetch_ms']} ms ({result.charset})")
            print(f"newest item date: {out['newest_date'] or '—'}" + (f" ({out['reason']})" if out["reason"] else ""))
            for item in out["items"][:20]:
                pinned = "[置顶] " if item["pinned"] else ""
                print(f"  {item['date'] or '          '}  {pinned}{one_line(item['title'])}")
            if explained is not None:
                print("\n".join(explanation_lines(explained)))
        return 0 if result.ok else 1

    return asyncio.run(go())


def cmd_check_page(args: argparse.Namespace) -> int:
    from monitor.check_page import run

    return run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from monitor import logs
    from monitor.service import run_service

    inventory = _load_or_report(args.config)
    if inventory is None:
        print("refusing to start: fix the inventory first (govwatch check-config FILE)", file=sys.stderr)
        return 2
    logs.setup(args.log_level)
    return _start(run_service(inventory, store_path=args.store, listen=args.listen, node=args.node),
                  {"listen": "--listen / settings.listen", "store": "--store / settings.store"})


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor import logs
    from monitor.demo.command import run_demo

    logs.setup("warning" if args.once else "info")
    return _start(run_demo(once=args.once, listen=args.listen, workdir=args.dir),
                  {"listen": "--listen", "store": "--dir"})


def _start(service: Coroutine[Any, Any, int], flags: dict[str, str]) -> int:
    """Run the daemon; a problem that keeps it from starting is one line naming ``flags``' setting, exit 2.
    Ctrl-C before the daemon's own signal handling is in place ends it quietly (exit 130)."""
    from monitor.startup import StartupError

    try:
        return asyncio.run(service)
    except StartupError as exc:
        print(exc.line(flags), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _row_id(text: str) -> int:
    """An id of a stored row (a silence, an outbox item): a positive 64-bit integer."""
    if not text.isdigit() or len(text) > 19 or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"编号应为不大于 {2**63 - 1} 的正整数，收到 {text[:30]!r}")
    return int(text)


def _with_store(args: argparse.Namespace, work: Callable[[Any, Any], Awaitable[int]]) -> int:
    """Open the inventory's store (the daemons may be running: SQLite WAL and PostgreSQL allow it) and run
    ``work``."""
    from monitor.store import StoreUnavailable, store_at

    inventory = _load_or_report(args.config)
    if inventory is None:
        return 2

    async def go() -> int:
        store = store_at(inventory.settings.store)
        await store.open()
        try:
            return await work(store, inventory)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return 2


def cmd_silence(args: argparse.Namespace) -> int:
    from datetime import datetime

    from monitor.web.admin import parse_until

    async def work(store: Store, inventory: config.Inventory) -> int:
        now = datetime.now(TZ)
        if args.action == "add":
            scope, ident = next((s, getattr(args, s)) for s in ("unit", "site", "target") if getattr(args, s))
            known = {"unit": {u.id for u in inventory.model.units}, "site": {s.id for s in inventory.model.sites},
                     "target": {t.id for t in inventory.targets}}[scope]
            if ident not in known:
                print(f"unknown {scope} id {ident!r}; known: {', '.join(sorted(known)[:20])}", file=sys.stderr)
                return 2
            until = parse_until(args.until)
            if until <= now:
                print("--until must be in the future", file=sys.stderr)
                return 2
            silence_id = await store.silence_add(scope, ident, until, args.reason, args.by, now, args.discard)
            print(f"silence #{silence_id}: {scope} {ident} until {until.isoformat()} "
                  f"({'what it holds back is discarded' if args.discard else 'what is still due is sent when it ends'};"
                  " the daemon applies it within 30 s)")
        elif args.action == "rm":
            if not await store.silence_remove(args.id):
                print(f"no active silence #{args.id}", file=sys.stderr)
                return 1
            print(f"silence #{args.id} removed")
        else:
            for s in await store.silences(now):
                print(f"#{s.id}  {s.scope} {s.scope_id}  until {s.ends_at.astimezone(TZ):%Y-%m-%d %H:%M}  "
                      f"{s.reason}  ({s.created_by}{', discard' if s.discard else ''})")
        return 0

    return _with_store(args, work)


def cmd_findings(args: argparse.Namespace) -> int:
    from datetime import datetime

    from monitor.findings import Status

    async def work(store: Store, inventory: config.Inventory) -> int:
        if args.action == "mark":
            if not args.uid or not args.as_:
                print("mark needs a finding id and --as false_positive|fixed|open", file=sys.stderr)
                return 2
            change = await store.finding_mark(args.uid, Status(args.as_), args.by, args.note, datetime.now(TZ))
            if change is None:
                print(f"no finding {args.uid!r}; list them with: govwatch findings list --config …", file=sys.stderr)
                return 1
            print(f"{args.uid}: {change.known.status} (the daemon takes it in within 30 s)")
            return 0
        if args.action == "show":
            found = await store.finding(args.uid or "")
            if found is None:
                print(f"no finding {args.uid!r}", file=sys.stderr)
                return 1
            print(json.dumps(found, ensure_ascii=False, indent=2, default=str))
            return 0
        rows = await store.findings_list(None if args.status == "all" else args.status, args.check, args.unit,
                                         args.site, None, args.limit)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, default=str))
            return 0
        for f in rows:
            print(f"{f['uid']}  {f['severity']:<6} {f['status']:<14} {f['label']}  {f['unit_id']}  {f['site_id']}  "
                  f"{f['title']}  {f['url'] or ''}")
        print(f"{len(rows)} finding(s)")
        return 0

    return _with_store(args, work)


def cmd_outbox(args: argparse.Namespace) -> int:
    async def work(store: Store, inventory: config.Inventory) -> int:
        if args.drop:
            dropped = await store.outbox_drop(args.drop, args.by)
            print(f"dropped {dropped} pending item(s)")
            return 0 if dropped else 1
        for channel, stat in (await store.outbox_stats()).items():
            print(f"{channel}: {stat['pending']} pending since {stat['oldest']:%Y-%m-%d %H:%M:%S}, "
                  f"{stat['attempts']} attempts, last error: {stat['last_error'] or '—'}")
        for item in await store.outbox_list(args.status, args.limit):
            payload = item["payload"]
            what = payload.get("topic") or f"{payload.get('kind')} {payload.get('site')} {payload.get('column')}"
            print(f"#{item['id']}  {item['status']:<10} {item['channel']:<20} {what}  "
                  f"attempts={item['attempts']} {item['last_error'] or ''}")
        return 0

    return _with_store(args, work)


def cmd_backup(args: argparse.Namespace) -> int:
    """A checked copy of the store, taken while the daemon runs (SQLite's online backup API; pg_dump for
    PostgreSQL)."""
    import sqlite3

    async def work(store: Store, inventory: config.Inventory) -> int:
        target = Path(args.to)
        try:
            await store.backup(target)
        except (OSError, sqlite3.Error) as exc:
            print(f"备份失败 backup failed: {exc}", file=sys.stderr)
            return 1
        checked = "pg_restore --list ok" if is_postgres(inventory.settings.store) else "integrity_check ok"
        print(f"已备份 backup written: {target} ({target.stat().st_size} bytes, {checked})")
        return 0

    return _with_store(args, work)


def cmd_cluster_status(args: argparse.Namespace) -> int:
    """The daemons sharing the inventory's PostgreSQL store: each one's hosts and heartbeat."""
    from collections import Counter
    from datetime import datetime

    async def work(store: Store, inventory: config.Inventory) -> int:
        if inventory.settings.cluster is None or not is_postgres(inventory.settings.store):
            print("该清单未配置集群（settings.cluster 与 postgresql:// 存储） — this inventory runs no cluster "
                  "(settings.cluster with a postgresql:// store)", file=sys.stderr)
            return 2
        from monitor.daemon.cluster import bucket_of, cluster_status

        total = inventory.settings.cluster.buckets
        hosts = Counter(bucket_of(h, total) for h in {t.host for t in inventory.targets})
        members, unheld = await cluster_status(store, total)  # type: ignore[arg-type]
        now = datetime.now(TZ)
        rows = [{"node": m.node, "alive": m.alive, "state": m.state, "heartbeat_at": m.heartbeat_at.isoformat(),
                 "heartbeat_age_s": round((now - m.heartbeat_at).total_seconds(), 1), "pid": m.pid,
                 "started_at": m.started_at.isoformat(), "buckets": len(m.buckets),
                 "hosts": sum(hosts[b] for b in m.buckets), "board": m.board} for m in members]
        if args.json:
            print(json.dumps({"daemons": rows, "buckets": total, "unheld_buckets": unheld,
                              "hosts": sum(hosts.values())}, ensure_ascii=False))
            return 0
        print(f"{'节点 node':<24} {'状态 state':<12} {'心跳 heartbeat':<22} {'分组 buckets':>12} {'主机 hosts':>10}  "
              "看板 board")
        for r in rows:
            state = ("在线 alive" if r["alive"] else "失联 lost") + ("" if r["state"] == "ok" else f" ({r['state']})")
            print(f"{r['node']:<24} {state:<12} {str(r['heartbeat_age_s']) + ' s ago':<22} {r['buckets']:>12} "
                  f"{r['hosts']:>10}  {r['board']}")
        print(f"共 {len(rows)} 个节点，{total} 个主机分组（{unheld} 个无人持有），{sum(hosts.values())} 个主机 — "
              f"{len(rows)} daemons, {total} buckets ({unheld} unheld), {sum(hosts.values())} hosts")
        return 0

    return _with_store(args, work)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy a SQLite store's whole history into an empty PostgreSQL store (moving up to several daemons)."""
    from monitor.store import StoreUnavailable
    from monitor.store.location import masked

    if not is_postgres(args.target):
        print(f"--to 应为 postgresql:// 地址，收到 {args.target!r} — --to must be a postgresql:// URI", file=sys.stderr)
        return 2
    try:
        from monitor.store.migrate import NotEmpty, copy_sqlite_to_postgres
    except ImportError as exc:
        print(f"迁移到 PostgreSQL 需要先安装：pip install 'govwatch[postgres]'（缺少 {exc.name}）", file=sys.stderr)
        return 2

    def progress(table: str, rows: int) -> None:
        print(f"\r{table}: {rows}", end="", flush=True)

    try:
        copied = asyncio.run(copy_sqlite_to_postgres(Path(args.source), args.target, progress))
    except (FileNotFoundError, NotEmpty, StoreUnavailable) as exc:
        print(f"\n迁移失败 migrate failed: {exc}", file=sys.stderr)
        return 1
    print(f"\r已迁移 copied {args.source} → {masked(args.target)}: "
          + ", ".join(f"{table} {rows}" for table, rows in copied.items()))
    print("下一步 next: settings.store 改为该地址后启动守护进程 — set settings.store to it and start the daemons")
    return 0


def cmd_messages(args: argparse.Namespace) -> int:
    """Per unit and per message box: the answer times of the messages the daemon last read (tab-separated)."""
    from datetime import datetime

    from monitor.checks.messages import stats_table
    from monitor.workdays import default_calendar

    async def work(store: Store, inventory: config.Inventory) -> int:
        now = datetime.now(TZ)
        if args.today:
            now = datetime.combine(date.fromisoformat(args.today), now.timetz())
        stats = stats_table(inventory, await store.load_messages(), now, default_calendar())
        if args.json:
            print(json.dumps(stats, ensure_ascii=False, indent=2))
            return 0

        def cells(row: dict[str, Any]) -> list[str]:
            share = row["answered_share"]
            return [str(row["messages"]), str(row["answered"]), "—" if share is None else f"{share:.1%}",
                    *("—" if row[k] is None else str(row[k]) for k in ("median_workdays", "max_workdays")),
                    str(row["late"]), str(row["overdue"]), str(row["vetoes"])]

        head = ["留言", "已回复", "回复率", "用时中位数(工作日)", "最长用时", "超期回复", "超期未回复", "超3个月未回复"]
        print("\t".join(["责任单位", "信箱数", *head]))
        for row in stats["units"]:
            print("\t".join([row["unit"], str(row["boxes"]), *cells(row)]))
        print()
        print("\t".join(["信箱", "网站", "最近读取", *head]))
        for row in stats["boxes"]:
            read = row["read_at"][:16].replace("T", " ") if row["read_at"] else "尚未读取"
            print("\t".join([row["name"], row["site"], read, *cells(row)]))
        return 0

    return _with_store(args, work)


def cmd_report(args: argparse.Namespace) -> int:
    """The quarterly score table (xlsx, HTML) and a draft 通报 from the stored verdict history."""
    from monitor.report.files import write_all
    from monitor.report.history import quarter_report
    from monitor.report.score import Quarter, Scoring
    from monitor.store import store_at

    try:
        quarter = Quarter.parse(args.quarter)
        scoring = Scoring.load(Path(args.scoring)) if args.scoring else Scoring()
    except (ValueError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.demo:
        return _demo_report(quarter, scoring, Path(args.out))
    if not args.config:
        print("report needs --config FILE (or --demo to simulate a quarter on loopback sites)", file=sys.stderr)
        return 2
    inventory = _load_or_report(args.config)
    if inventory is None:
        return 2
    store = args.store or inventory.settings.store
    if not is_postgres(store) and not Path(store).exists():
        print(f"no store at {store}: run the daemon first (govwatch run --config FILE)", file=sys.stderr)
        return 2
    units = [(u.id, u.name) for u in inventory.model.units]

    async def read() -> Report:
        db = store_at(store)
        await db.open()
        try:
            return await quarter_report(db, quarter, scoring, units)
        finally:
            await db.close()

    report = asyncio.run(read())
    for path in write_all(report, Path(args.out)):
        print(f"wrote {path}")
    print(f"{quarter}: {len(report.units)} units, {report.sites_passed}/{len(report.sites)} sites 合格")
    return 0


def _demo_report(quarter: Quarter, scoring: Scoring, out: Path) -> int:
    """``report --demo``: a quarter of scripted history on loopback sites through the daemon, then its report."""
    from monitor import logs
    from monitor.demo.quarter import run_demo_quarter

    logs.setup("warning")
    print(f"simulating {quarter}: loopback sites probed daily through the daemon into {out / f'demo-{quarter}'}",
          flush=True)
    report, paths = asyncio.run(run_demo_quarter(quarter, out, scoring))
    for unit in report.units:
        verdict = "合格" if unit.passed(report.scoring) else "不合格"
        print(f"  {unit.name}: 扣分 {unit.deduction:g}，得分 {unit.score:g}，{verdict}")
    for path in paths:
        print(f"wrote {path}")
    print(f"{quarter}: {report.sites_passed}/{len(report.sites)} sites 合格, "
          f"{report.accounts_passed}/{len(report.accounts)} accounts 合格")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="govwatch", description="政府网站与政务新媒体监测预警 — monitoring daemon")
    p.add_argument("--version", action="version", version=f"govwatch {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", required=True, help="inventory file (.yaml or .xlsx)")
    run.add_argument("--store", help="SQLite file or postgresql:// URI (default: settings.store)")
    run.add_argument("--listen", help="board address HOST:PORT (default: settings.listen)")
    run.add_argument("--log-level", default="info")
    run.add_argument("--node", help="this daemon's name in a cluster (default: settings.cluster.node, else the "
                                    "machine's name and the board's port)")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate an inventory and list every problem")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)

    imp = sub.add_parser("import-excel", help="convert an office spreadsheet (单位, 网站, 栏目, 地址, 类别) to YAML")
    imp.add_argument("file")
    imp.add_argument("-o", "--output", required=True)
    imp.set_defaults(func=cmd_import_excel)

    acc = sub.add_parser("import-accounts", help="convert a list of new-media accounts "
                         "(序号, 单位名称, 新媒体账号名称, 类型) to inventory YAML")
    acc.add_argument("file")
    acc.add_argument("-o", "--output", help="write here (default: print)")
    acc.add_argument("--status", default="已备案", choices=("已备案", "未备案", "已关停"))
    acc.set_defaults(func=cmd_import_accounts)

    chk = sub.add_parser("check-accounts", help="report accounts found that the inventory does not register (未备案)")
    chk.add_argument("--config", required=True, help="the inventory")
    chk.add_argument("--discovered", required=True, help="accounts found, same layout as import-accounts")
    chk.add_argument("--notify", action="store_true", help="also tell each unit through its receivers (outbox)")
    chk.set_defaults(func=cmd_check_accounts)

    pr = sub.add_parser("probe", help="fetch one column list page and print its newest item date")
    pr.add_argument("url")
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    pr.add_argument("--timeout", type=float, default=15.0)
    pr.add_argument("--render", choices=("browser",), help="render the page in the headless browser first (a list "
                    "built by script; needs pip install 'govwatch[browser]' and chromium)")
    pr.add_argument("--user-agent")
    pr.add_argument("--allow-private", action="append", default=[], type=network, metavar="CIDR",
                    help="a private network the page may redirect into (政务外网), as fetch.allow_private")
    pr.add_argument("--today", help="YYYY-MM-DD: the date used to infer years of year-less dates")
    pr.add_argument("--parser", default="list", help='list (default), feed (RSS/Atom/JSON Feed of an account) or '
                    'json:{"items":"data.list","title":"title","url":"url","date":"time"}')
    pr.add_argument("--explain", action="store_true",
                    help="also print the candidate lists (scores, rows, dates), why one was chosen, and an override")
    pr.add_argument("--list", help="try an override: CSS selector of the list's rows (e.g. 'ul.list > li')")
    pr.add_argument("--date", help="with --list: CSS selector of the date inside a row, or /regex/")
    pr.add_argument("--date-format", help="with --list: how the date is written, e.g. %%Y/%%m/%%d or %%d/%%m/%%Y")
    pr.set_defaults(func=cmd_probe)

    from monitor.check_page import add_parser as add_check_page

    add_check_page(sub)
    sub.choices["check-page"].set_defaults(func=cmd_check_page)

    sil = sub.add_parser("silence", help="silence alerts of a unit, site or column until a time (maintenance)")
    sil.add_argument("action", choices=("add", "list", "rm"))
    sil.add_argument("--config", required=True)
    scope = sil.add_mutually_exclusive_group()
    scope.add_argument("--unit")
    scope.add_argument("--site")
    scope.add_argument("--target", help="a column or homepage target id")
    sil.add_argument("--until", help="end time, e.g. 2026-12-01T18:00 (Asia/Shanghai)")
    sil.add_argument("--reason", default="")
    sil.add_argument("--by", default="cli")
    sil.add_argument("--discard", action="store_true",
                     help="do not send, when it ends, the alerts it held back that are still due (default: send them)")
    sil.add_argument("--id", type=_row_id, help="silence id for rm")
    sil.set_defaults(func=cmd_silence)

    fnd = sub.add_parser("findings", help="what the checks found (links, words, availability, messages, …); "
                         "mark one false positive or fixed")
    fnd.add_argument("action", choices=("list", "show", "mark"))
    fnd.add_argument("uid", nargs="?", help="a finding id (show, mark)")
    fnd.add_argument("--config", required=True)
    fnd.add_argument("--status", default="open", choices=("open", "gone", "false_positive", "fixed", "all"))
    fnd.add_argument("--check", help="e.g. hidden_link, word, availability")
    fnd.add_argument("--unit")
    fnd.add_argument("--site")
    fnd.add_argument("--limit", type=int, default=200)
    fnd.add_argument("--json", action="store_true")
    fnd.add_argument("--as", dest="as_", choices=("false_positive", "fixed", "open"), help="mark: the new status")
    fnd.add_argument("--by", default="cli")
    fnd.add_argument("--note", default="")
    fnd.set_defaults(func=cmd_findings)

    bak = sub.add_parser("backup", help="a consistent, checked copy of the store, taken while the daemon runs")
    bak.add_argument("--config", required=True)
    bak.add_argument("--to", required=True, metavar="FILE", help="where to write the copy (replaced if it exists)")
    bak.set_defaults(func=cmd_backup)

    cl = sub.add_parser("cluster", help="several daemons on one PostgreSQL store (settings.cluster)")
    cl_sub = cl.add_subparsers(dest="action", required=True)
    cl_status = cl_sub.add_parser("status", help="the daemons, their hosts and heartbeats")
    cl_status.add_argument("--config", required=True)
    cl_status.add_argument("--json", action="store_true", help="one JSON object")
    cl_status.set_defaults(func=cmd_cluster_status)

    mig = sub.add_parser("migrate", help="copy a SQLite store's whole history into an empty PostgreSQL store")
    mig.add_argument("--from", dest="source", required=True, metavar="FILE.sqlite3", help="the SQLite store")
    mig.add_argument("--to", dest="target", required=True, metavar="postgresql://…", help="an empty PostgreSQL store")
    mig.set_defaults(func=cmd_migrate)

    box = sub.add_parser("outbox", help="pending notifications and events; drop what an operator gives up on")
    box.add_argument("--config", required=True)
    box.add_argument("--status", choices=("pending", "held", "sent", "dropped", "suppressed", "lapsed"))
    box.add_argument("--limit", type=int, default=50)
    box.add_argument("--drop", type=_row_id, nargs="+", metavar="ID")
    box.add_argument("--by", default="cli")
    box.set_defaults(func=cmd_outbox)

    msg = sub.add_parser("messages", help="answer times of citizens' messages (网民留言) per unit and message box")
    msg.add_argument("--config", required=True)
    msg.add_argument("--json", action="store_true", help="print one JSON object")
    msg.add_argument("--today", help="YYYY-MM-DD: the day the deadlines are judged on (default: today)")
    msg.set_defaults(func=cmd_messages)

    rep = sub.add_parser("report", help="quarterly score table (xlsx, HTML) and a draft 通报 from the store")
    rep.add_argument("--config", help="inventory (required unless --demo)")
    rep.add_argument("--quarter", required=True, help="e.g. 2026Q4")
    rep.add_argument("--demo", action="store_true",
                     help="simulate the quarter on loopback sites through the daemon and report on that")
    rep.add_argument("--out", default=".", help="directory for score-QUARTER.xlsx/.html and notice-QUARTER.txt")
    rep.add_argument("--store", help="SQLite file or postgresql:// URI (default: settings.store)")
    rep.add_argument("--scoring", help="YAML: deductions per category, pass_mark, stale_veto_columns, veto_checks")
    rep.set_defaults(func=cmd_report)

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
