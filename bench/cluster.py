"""Three daemons on one local PostgreSQL share a loopback fleet; one is killed with -9 mid-run and comes back.

    python bench/cluster.py --store postgresql://postgres@127.0.0.1:5432/EMPTY_DATABASE \\
        --sites 600 --columns 50 --interval 240 --heartbeat 5

The fleet (monitor.demo.fleet) runs in its own process and logs every request; the daemons are ``govwatch run``
processes (``settings.cluster``), their alerts go to a receiver endpoint in this process. Every column is probed
every ``--interval`` seconds (no jitter); columns 告警栏目N cross to yellow and red by their deadline timers while
the daemons run. The daemon holding the most buckets is killed half an interval after the first sweep, as it makes
a request (in the midst of its probes). From the fleet's own log, per column: ``duplicates`` (two probes less than
half an interval apart) and ``gaps`` (more than an interval and a half between two probes), over the run after the
first sweep.
``lost`` is the crossings the endpoint never heard of; ``takeover_s`` the time from the kill until every bucket is
held again without the killed daemon; ``sweep_s`` the first sweep of the whole fleet by the three daemons;
``db_cpu_s`` the CPU time of the PostgreSQL backends serving this database (sampled from /proc).

Every daemon runs on its own copy of the inventory that differs only in ``settings.fetch.user_agent``
(``govwatch-bench/dN``), which the fleet logs with each request, so each probe is known by the daemon that made it;
the bench reads the bucket leases every half second. Every duplicate and gap is then classified: which daemons
probed the column, when (seconds after the kill and after the restart) and whether the column's bucket changed hands
in between. ``duplicates_at_crash`` are the ones the crash alone explains — the killed daemon probed the column
before the kill and its successor probed it again (the result never reached the store); at most one a column
(``duplicates_max_per_column_at_crash``). ``duplicates_handover`` came with a bucket given from one live daemon to
another, ``duplicates_same_daemon`` from one daemon alone; ``duplicates_first_sweep`` are counted (and classified)
the same way before the first sweep ended. Every odd pair is written to ``odd.json`` in the run's folder.
Prints a human summary, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from monitor.daemon.cluster import bucket_of
from monitor.store import leases

ALERTING = "告警栏目"  # the name of the columns that cross their deadlines during the run
AGENT = "govwatch-bench/"  # each daemon's user agent: this and its node name
BUCKETS = 256
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
        "cluster": {"heartbeat": f"{args.heartbeat}s", "buckets": BUCKETS},
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


def node_inventory(path: Path, node: str) -> Path:
    """The inventory as one daemon reads it: the same but for its user agent, which tells its probes apart."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["settings"]["fetch"]["user_agent"] = f"{AGENT}{node}"
    own = path.with_name(f"inventory-{node}.json")
    own.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return own


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
    def __init__(self, inventory: Path, folder: Path, log_level: str) -> None:
        self.inventory, self.folder, self.log_level = inventory, folder, log_level
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node: str, port: int) -> None:
        config = node_inventory(self.inventory, node)
        with (self.folder / f"{node}.log").open("ab") as log:
            self.procs[node] = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "run", "--config", str(config), "--node", node,
                 "--listen", f"127.0.0.1:{port}", "--log-level", self.log_level], stdout=subprocess.DEVNULL, stderr=log)

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
    return {m.node: len(m.buckets) for m in members if m.alive}, await leases.unheld(db, BUCKETS)


class Owners:
    """Who held each bucket when: the leases read every half second (a lease run out is held by no one)."""

    def __init__(self) -> None:
        self.changes: dict[int, list[tuple[float, str | None]]] = defaultdict(list)

    async def watch(self, dsn: str) -> None:
        db = await asyncpg.connect(dsn)
        try:
            while True:
                with contextlib.suppress(asyncpg.UndefinedTableError):  # until a daemon has made the tables
                    await self.read(db)
                await asyncio.sleep(0.5)
        finally:
            await db.close()

    async def read(self, db: asyncpg.Connection) -> None:
        now = time.time()
        for bucket, owner in await db.fetch(
                f"""SELECT convert_from(j.payload, 'UTF8')::integer, m.node FROM pgqueuer AS j
                    LEFT JOIN cluster_members AS m ON m.worker = j.queue_manager_id AND j.status = 'picked'
                      AND j.heartbeat > now() - m.ttl_s * interval '1 second'
                    WHERE j.entrypoint = '{leases.ENTRYPOINT}'"""):
            seen = self.changes[bucket]
            if not seen or seen[-1][1] != owner:
                seen.append((now, owner))

    def between(self, bucket: int, start: float, end: float) -> list[str | None]:
        """The holders of a bucket from ``start`` to ``end``, in turn (None: no one)."""
        out: list[str | None] = []
        for at, owner in self.changes.get(bucket, []):
            if at <= start:
                out = [owner]
            elif at <= end:
                out.append(owner)
        return out


def read_log(path: Path) -> dict[tuple[str, str], list[tuple[float, str]]]:
    """Every column's probes in the fleet's log: (when, which daemon), by (port, path)."""
    probes: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            at, port, target, agent = line.rstrip("\n").split(" ", 3)
            probes[(port, target)].append((float(at), agent.removeprefix(AGENT)))
    return probes


def classify(probes: dict[tuple[str, str], list[tuple[float, str]]], owners: Owners, interval: float,
             moments: dict[str, float], victim: str) -> list[dict[str, Any]]:
    """Every duplicate (two probes of a column less than half an interval apart) and gap (more than an interval and
    a half between two), with the daemons that made the two probes, the bucket's holders in between, when the
    second came after the kill and after the restart, and its kind."""
    odd = []
    for (port, path), seen in probes.items():
        bucket = bucket_of(f"127.0.0.1:{port}", BUCKETS)
        for (a, by_a), (b, by_b) in itertools.pairwise(sorted(seen)):
            if interval / 2 <= b - a <= interval * 1.5:
                continue
            holders = owners.between(bucket, a, b + 1.0)  # a claim is seen by the next look, half a second on
            if b - a > interval * 1.5:
                kind = "gap"
            elif by_a == victim and a <= moments["kill"] <= b and by_b != victim:
                kind = "crash"
            elif by_a == by_b and len(set(holders)) <= 1:
                kind = "same_daemon"
            else:
                kind = "handover"
            odd.append({"kind": kind, "column": f"{port}{path}", "bucket": bucket, "first": by_a, "second": by_b,
                        "holders": holders, "apart_s": round(b - a, 2), "from": a, "at": b,
                        "after_kill_s": round(b - moments["kill"], 1),
                        "after_restart_s": round(b - moments["restart"], 1)})
    return odd


async def busy(request_log: Path, node: str, timeout: float) -> bool:
    """Until the fleet logs a request of ``node`` (the kill is then in the midst of its probes, the worst moment);
    False if none comes within ``timeout``."""
    agent = f" {AGENT}{node}\n"
    with request_log.open(encoding="utf-8") as lines:
        lines.seek(0, os.SEEK_END)
        t0 = time.time()
        while time.time() - t0 < timeout:
            if any(line.endswith(agent) for line in lines.readlines()):
                return True
            await asyncio.sleep(0.05)
    return False


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
    daemons = Daemons(inventory, folder, args.log_level)
    cpu = DatabaseCpu(args.store)
    db = await asyncpg.connect(args.store)
    owners = Owners()
    watching = asyncio.create_task(owners.watch(args.store))
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

        seen: set[tuple[str, ...]] = set()
        grew = [time.time()]  # when a column was last logged for the first time

        async def swept() -> bool:
            """Every column probed once: most of them logged (a down site logs none) and none new for a moment."""
            if request_log.exists():
                with request_log.open(encoding="utf-8") as lines:
                    new = {tuple(line.split(" ", 3)[1:3]) for line in lines} - seen
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
        probing = await busy(request_log, victim, args.interval)
        daemons.kill(victim)
        killed = time.time()
        print(f"killed {victim} (-9) holding {buckets[victim]} of {BUCKETS} buckets"
              f"{' while probing' if probing else ' (it probed nothing for an interval)'}", flush=True)

        async def taken_over() -> bool:
            now, unheld = await held(db)
            return victim not in now and unheld == 0

        takeover_s = await wait(taken_over, 10 * args.heartbeat + 60, "the takeover")
        print(f"its buckets held by the others after {takeover_s:.1f} s", flush=True)
        await wait(lambda: asyncio.sleep(args.interval, result=True), 2 * args.interval, "an interval")
        daemons.start(victim, args.port + int(victim[1:]))
        restarted = time.time()

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
        watching.cancel()
        await db.close()
        for proc in daemons.procs.values():
            if proc.poll() is None:
                proc.kill()
        fleet.send_signal(signal.SIGTERM)
        fleet.wait(timeout=60)
        await endpoint.cleanup()
    moments = {"start": started, "steady": steady, "kill": killed, "taken_over": killed + takeover_s,
               "restart": restarted, "rejoined": restarted + rejoin_s, "end": end}
    logged = read_log(request_log)
    probes = sum(1 for seen in logged.values() for at, _ in seen if steady <= at <= end)
    odd = classify({c: [p for p in seen if p[0] <= end] for c, seen in logged.items()}, owners, args.interval,
                   moments, victim)
    (folder / "odd.json").write_text(json.dumps(
        {"moments": moments, "victim": victim, "odd": odd, "holders": owners.changes}, ensure_ascii=False,
        indent=1), encoding="utf-8")
    counted = [o for o in odd if o["from"] >= steady]
    kinds = Counter(o["kind"] for o in counted)
    per_column = Counter(o["column"] for o in counted if o["kind"] == "crash")
    for o in sorted(odd, key=lambda o: o["at"]):
        if o["kind"] != "crash":
            when = " (first sweep)" if o["from"] < steady else ""
            print(f"{o['kind']}{when}: {o['column']} (bucket {o['bucket']}) by {o['first']} then {o['second']}"
                  f" {o['apart_s']} s apart, {o['after_kill_s']} s after the kill, {o['after_restart_s']} s after"
                  f" the restart; holders {o['holders']}", flush=True)
    told = set(receiver.told)
    if expected - told:
        print("never told:", sorted(expected - told), flush=True)
    return {
        "daemons": 3, "columns": columns, "interval_s": args.interval, "heartbeat_s": args.heartbeat,
        "duplicates": len(counted) - kinds["gap"], "gaps": kinds["gap"], "probes": probes,
        "duplicates_at_crash": kinds["crash"], "duplicates_other": len(counted) - kinds["gap"] - kinds["crash"],
        "duplicates_handover": kinds["handover"], "duplicates_same_daemon": kinds["same_daemon"],
        "duplicates_max_per_column_at_crash": max(per_column.values(), default=0),
        "duplicates_first_sweep": sum(1 for o in odd if o["from"] < steady and o["kind"] != "gap"),
        "killed_while_probing": probing, "takeover_s": round(takeover_s, 1),
        "rejoin_s": round(rejoin_s, 1), "lost": len(expected - told), "alerts": len(expected),
        "alerts_twice": len(receiver.told) - len(told), "sweep_s": round(sweep_s, 1),
        "db_cpu_s": round(cpu.seconds, 1), "run_s": round(end - started, 1), "exit_codes": codes,
        "odd": str(folder / "odd.json"),
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
    parser.add_argument("--log-level", default="warning", help="the daemons' (their logs: dN.log in the run's folder)")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(f"{figures['columns']} columns every {args.interval} s, three daemons, one killed -9 and back: "
          f"{figures['duplicates']} duplicate ({figures['duplicates_at_crash']} at the crash) and {figures['gaps']}"
          f" missed probes of {figures['probes']}; "
          f"takeover {figures['takeover_s']} s; {figures['lost']} of {figures['alerts']} crossings lost "
          f"({figures['alerts_twice']} told twice); first sweep {figures['sweep_s']} s; "
          f"PostgreSQL CPU {figures['db_cpu_s']} s over {figures['run_s']} s")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
