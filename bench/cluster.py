"""Three daemons on one local PostgreSQL share a loopback fleet; one is killed with -9 mid-run and comes back.

    python bench/cluster.py --store postgresql://postgres@127.0.0.1:5432/EMPTY_DATABASE \\
        --sites 600 --columns 50 --interval 240 --heartbeat 5

The fleet (monitor.demo.fleet) runs in its own process and logs every request; the daemons are ``govwatch run``
processes (``settings.cluster``), their alerts go to a receiver endpoint in this process. Every column is probed
every ``--interval`` seconds (no jitter); columns 告警栏目N cross to yellow and red by their deadline timers while
the daemons run. From the fleet's own log, per column: ``duplicates`` (two probes less than half an interval
apart) and ``gaps`` (more than an interval and a half between two probes), over the run after the first sweep.
``lost`` is the crossings the endpoint never heard of; ``takeover_s`` the time from the kill until every bucket is
held again without the killed daemon; ``sweep_s`` the first sweep of the whole fleet by the three daemons;
``db_cpu_s`` the CPU time of the PostgreSQL backends serving this database (sampled from /proc).
Prints a human summary, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from monitor.store import leases

ALERTING = "告警栏目"  # the name of the columns that cross their deadlines during the run
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def start_fleet(args: argparse.Namespace, inventory: Path, log: Path) -> subprocess.Popen[str]:
    fleet = subprocess.Popen(
        [sys.executable, "-m", "monitor.demo.fleet", "--sites", str(args.sites), "--columns", str(args.columns),
         "--inventory", str(inventory), "--request-log", str(log)], stdout=subprocess.PIPE, text=True)
    line = fleet.stdout.readline() if fleet.stdout else ""
    if not line.startswith("READY"):
        fleet.kill()
        raise SystemExit(f"fleet did not start: {line!r}")
    return fleet


def tune(path: Path, args: argparse.Namespace, receiver: str) -> tuple[int, set[str]]:
    """The fleet's inventory for the cluster: columns only, every one on ``--interval``; every ``--alert-every``-th
    column renamed 告警栏目N with a sub-day deadline that falls during the run. Returns (columns, alerting names)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    interval = args.interval
    data["settings"] = {
        "store": args.store, "checks": [], "jitter": 0, "extract_workers": args.workers,
        "fetch": {"per_host_interval": "0s", "timeout": "30s", "connections": 256},
        "alerts": {"group_window": "0s", "repeat_at": None, "escalate_after": None, "send_timeout": "10s",
                   "max_backoff": "2s"},
        "cluster": {"heartbeat": f"{args.heartbeat}s", "buckets": 256},
    }
    for unit in data["units"]:
        unit["receivers"] = [{"id": "group", "url": f"json://{receiver}/{unit['id']}"}]
    alerting: set[str] = set()
    n = 0
    for site in data["sites"]:
        site["check_homepage"] = False
        site.pop("messages", None)
        for col in site["columns"]:
            col["interval"] = f"{interval}s"
            if n % args.alert_every == 0:
                col["name"] = f"{ALERTING}{n}"
                alerting.add(col["name"])
                # red 0.8 to 1.7 intervals after the first probe (around the kill), yellow a third of an interval before
                col["deadline"] = f"{int(interval * (0.8 + (n // args.alert_every % 10) / 10))}s"
                col["lead"] = f"{interval // 3}s"
                col["category"] = "动态要闻"
            n += 1
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return n, alerting


class Receiver:
    """The units' chat endpoints: every (column, crossing) told, in order."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str]] = []
        self.address = ""

    async def start(self) -> web.AppRunner:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            title, text = body.get("title", ""), body.get("message", "")
            if "「" in text:  # grouped: one line per crossing, [预警] or [超期] first
                for line in text.splitlines():
                    for name in re.findall(ALERTING + r"\d+", line):
                        self.told.append((name, line[1:3]))
            else:
                for name in set(re.findall(ALERTING + r"\d+", text)):
                    self.told.append((name, "预警" if "黄色" in title else "超期"))
            return web.json_response({"errcode": 0})

        app = web.Application()
        app.router.add_post("/{unit}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.address = f"127.0.0.1:{runner.addresses[0][1]}"
        return runner


class Daemons:
    def __init__(self, inventory: Path, folder: Path) -> None:
        self.inventory, self.folder = inventory, folder
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node: str, port: int) -> None:
        with (self.folder / f"{node}.log").open("ab") as log:
            self.procs[node] = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "run", "--config", str(self.inventory), "--node", node,
                 "--listen", f"127.0.0.1:{port}", "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=log)

    def kill(self, node: str) -> None:
        self.procs[node].send_signal(signal.SIGKILL)
        self.procs[node].wait()

    async def stop(self) -> list[int]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        return [await asyncio.to_thread(p.wait, 60) for p in self.procs.values()]


class DatabaseCpu:
    """CPU seconds of the backends serving one database: each backend's utime+stime, last seen (from /proc)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.seen: dict[int, float] = {}

    async def sample(self, db: asyncpg.Connection) -> None:
        pids = [r[0] for r in await db.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.seen[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


async def held(db: asyncpg.Connection) -> tuple[dict[str, int], int]:
    """Buckets per live daemon, and buckets no live daemon holds."""
    members = await leases.members(db)
    return {m.node: len(m.buckets) for m in members if m.alive}, await leases.unheld(db, 256)


def read_log(path: Path) -> dict[tuple[str, str], list[float]]:
    probes: dict[tuple[str, str], list[float]] = defaultdict(list)
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            at, port, target = line.split(" ", 2)
            probes[(port, target.rstrip("\n"))].append(float(at))
    return probes


async def crossings(db: asyncpg.Connection, alerting: set[str]) -> set[tuple[str, str]]:
    """What the alerting columns' verdict history in the store says the receivers must have heard: each change to
    yellow (预警) and to red (超期; a blank column is red at its first probe)."""
    rows = await db.fetch(
        "SELECT t.name, v.state FROM verdicts AS v JOIN subjects AS s ON s.key = v.subject"
        " JOIN targets AS t ON t.id = s.name WHERE t.name = ANY($1::text[]) ORDER BY t.name, v.at, v.id",
        sorted(alerting))
    out: set[tuple[str, str]] = set()
    previous: dict[str, str] = {}
    for name, state in rows:
        if state != previous.get(name) and state in ("yellow", "red"):
            out.add((name, "预警" if state == "yellow" else "超期"))
        previous[name] = state
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="govwatch-cluster-"))
    inventory, request_log = folder / "inventory.json", folder / "requests.log"
    receiver = Receiver()
    endpoint = await receiver.start()
    fleet = start_fleet(args, inventory, request_log)
    columns, alerting = tune(inventory, args, receiver.address)
    daemons = Daemons(inventory, folder)
    cpu = DatabaseCpu(args.store)
    db = await asyncpg.connect(args.store)
    try:
        started = time.time()
        for i in range(3):
            daemons.start(f"d{i}", args.port + i)

        async def wait(predicate: Any, timeout: float, what: str) -> float:
            t0 = time.time()
            while not await predicate():
                if time.time() - t0 > timeout:
                    raise SystemExit(f"not within {timeout:.0f} s: {what}")
                await asyncio.sleep(0.5)
                await cpu.sample(db)
            return time.time() - t0

        seen: set[str] = set()
        grew = [time.time()]  # when a column was last logged for the first time

        async def swept() -> bool:
            """Every column probed once: most of them logged (a down site logs none) and none new for a moment."""
            if request_log.exists():
                with request_log.open(encoding="utf-8") as lines:
                    new = {line.split(" ", 1)[1] for line in lines} - seen
                if new:
                    seen.update(new)
                    grew[0] = time.time()
            return len(seen) >= 0.9 * columns and time.time() - grew[0] > 3

        await wait(swept, 20 * args.interval, "the first sweep")
        sweep_s = grew[0] - started
        print(f"first sweep of {columns} columns by three daemons: {sweep_s:.1f} s", flush=True)
        steady = time.time()
        await asyncio.sleep(args.interval / 2)
        buckets, _ = await held(db)
        victim = max(buckets, key=lambda node: buckets[node])
        daemons.kill(victim)
        print(f"killed {victim} (-9) holding {buckets[victim]} of 256 buckets", flush=True)

        async def taken_over() -> bool:
            now, unheld = await held(db)
            return victim not in now and unheld == 0

        takeover_s = await wait(taken_over, 10 * args.heartbeat + 60, "the takeover")
        print(f"its buckets held by the others after {takeover_s:.1f} s", flush=True)
        await wait(lambda: asyncio.sleep(args.interval, result=True), 2 * args.interval, "an interval")
        daemons.start(victim, args.port + int(victim[1:]))

        async def rejoined() -> bool:
            now, unheld = await held(db)
            return now.get(victim, 0) > 0 and unheld == 0

        rejoin_s = await wait(rejoined, 20 * args.heartbeat + 60, "the rejoin")
        print(f"{victim} back, holding {(await held(db))[0][victim]} buckets after {rejoin_s:.1f} s", flush=True)

        # the last crossings fall 1.7 intervals after a column's first probe; a minute more to hear of them
        settle = started + sweep_s + 1.7 * args.interval + 60 - time.time()
        await wait(lambda: asyncio.sleep(max(settle, 60), result=True), 5 * args.interval, "the rest")
        end = time.time()
        await cpu.sample(db)
        codes = await daemons.stop()
        expected = await crossings(db, alerting)
    finally:
        await db.close()
        for proc in daemons.procs.values():
            if proc.poll() is None:
                proc.kill()
        fleet.send_signal(signal.SIGTERM)
        fleet.wait(timeout=60)
        await endpoint.cleanup()
    duplicates = gaps = probes = 0
    for times in read_log(request_log).values():
        times = [t for t in sorted(times) if steady <= t <= end]
        probes += len(times)
        for a, b in itertools.pairwise(times):
            duplicates += b - a < args.interval / 2
            gaps += b - a > args.interval * 1.5
    told = set(receiver.told)
    if expected - told:
        print("never told:", sorted(expected - told), flush=True)
    return {
        "daemons": 3, "columns": columns, "interval_s": args.interval, "heartbeat_s": args.heartbeat,
        "duplicates": duplicates, "gaps": gaps, "probes": probes, "takeover_s": round(takeover_s, 1),
        "rejoin_s": round(rejoin_s, 1), "lost": len(expected - told), "alerts": len(expected),
        "alerts_twice": len(receiver.told) - len(told), "sweep_s": round(sweep_s, 1),
        "db_cpu_s": round(cpu.seconds, 1), "run_s": round(end - started, 1), "exit_codes": codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="an empty PostgreSQL database, postgresql://…")
    parser.add_argument("--sites", type=int, default=600)
    parser.add_argument("--columns", type=int, default=50, help="per site")
    parser.add_argument("--interval", type=int, default=240, help="every column's probe interval, seconds")
    parser.add_argument("--heartbeat", type=int, default=5, help="settings.cluster.heartbeat, seconds")
    parser.add_argument("--alert-every", type=int, default=100, help="every Nth column crosses its deadline")
    parser.add_argument("--workers", type=int, default=1, help="parser processes per daemon")
    parser.add_argument("--port", type=int, default=8491, help="the daemons' boards: this port and the next two")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(f"{figures['columns']} columns every {args.interval} s, three daemons, one killed -9 and back: "
          f"{figures['duplicates']} duplicate and {figures['gaps']} missed probes of {figures['probes']}; "
          f"takeover {figures['takeover_s']} s; {figures['lost']} of {figures['alerts']} crossings lost "
          f"({figures['alerts_twice']} told twice); first sweep {figures['sweep_s']} s; "
          f"PostgreSQL CPU {figures['db_cpu_s']} s over {figures['run_s']} s")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
