"""Benchmark govwatch's list-page extractor against htmldate on the fixture corpus.

Usage: python bench/parse.py [--reps N]

For every page of tests/fixtures/pages it measures CPU time (time.process_time) per
call after one warm-up pass per library, and whether the answer equals the expected
newest date (a page expected to have none counts as correct only when the tool returns
none). Prints a table, then one JSON summary object as the last line.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from htmldate import find_date  # noqa: E402
from htmldate.meta import reset_caches  # noqa: E402

from monitor.extract.listpage import extract_list  # noqa: E402

PAGES = ROOT / "tests" / "fixtures" / "pages"

Tool = Callable[[str, dict], str | None]


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def govwatch(text: str, spec: dict) -> str | None:
    ctype = "application/json" if spec["file"].endswith(".json") else "text/html"
    found = extract_list(text, spec["url"], date.fromisoformat(spec["today"]), ctype).newest_date
    return found.isoformat() if found else None


def htmldate_extensive(text: str, spec: dict) -> str | None:
    return find_date(text, extensive_search=True, original_date=False, outputformat="%Y-%m-%d")


def htmldate_fast(text: str, spec: dict) -> str | None:
    return find_date(text, extensive_search=False, original_date=False, outputformat="%Y-%m-%d")


TOOLS: dict[str, Tool] = {
    "govwatch": govwatch,
    "htmldate_extensive": htmldate_extensive,
    "htmldate_fast": htmldate_fast,
}


def load_corpus() -> list[tuple[str, dict]]:
    manifest = json.loads((PAGES / "expected.json").read_text(encoding="utf-8"))
    return [(decode((PAGES / name).read_bytes()), {**spec, "file": name}) for name, spec in sorted(manifest.items())]


def measure(tool: Tool, text: str, spec: dict, reps: int) -> tuple[str | None, list[float]]:
    """The tool's answer and its CPU milliseconds for each repetition.

    htmldate memoises date strings across calls; its caches are cleared (untimed) before
    each call so that repeating a page measures what a daemon seeing new pages pays.
    """
    times = []
    answer = None
    for _ in range(reps):
        if tool is not govwatch:
            reset_caches()
        start = time.process_time()
        answer = tool(text, spec)
        times.append((time.process_time() - start) * 1000)
    return answer, times


def run(reps: int) -> dict:
    corpus = load_corpus()
    for tool in TOOLS.values():  # warm-up: imports, regex caches, htmldate's cold start
        for text, spec in corpus:
            tool(text, spec)
    rows = []
    summary: dict = {"pages": len(corpus)}
    per_tool: dict[str, dict] = {name: {"medians": [], "means": [], "correct": 0} for name in TOOLS}
    for text, spec in corpus:
        row = {"file": spec["file"], "expected": spec["newest_date"]}
        for name, tool in TOOLS.items():
            answer, times = measure(tool, text, spec, reps)
            ok = answer == spec["newest_date"]
            stats = per_tool[name]
            stats["medians"].append(statistics.median(times))
            stats["means"].append(statistics.fmean(times))
            stats["correct"] += ok
            row[name] = (answer, ok, statistics.median(times))
        rows.append(row)
    print_table(rows)
    for name, stats in per_tool.items():
        summary[name] = {
            "ms_per_page": round(statistics.fmean(stats["medians"]), 3),
            "ms_median_page": round(statistics.median(stats["medians"]), 3),
            "ms_mean_of_means": round(statistics.fmean(stats["means"]), 3),
            "accuracy": round(stats["correct"] / len(corpus), 3),
        }
    gw = summary["govwatch"]["ms_per_page"]
    summary["speedup_vs_htmldate_extensive"] = round(summary["htmldate_extensive"]["ms_per_page"] / gw, 1)
    summary["speedup_vs_htmldate_fast"] = round(summary["htmldate_fast"]["ms_per_page"] / gw, 1)
    summary["reps"] = reps
    return summary


def print_table(rows: list[dict]) -> None:
    header = f"{'page':42} {'expected':10} " + " ".join(f"{name:>30}" for name in TOOLS)
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = []
        for name in TOOLS:
            answer, ok, ms = row[name]
            cells.append(f"{'✓' if ok else '✗'} {answer or '-':10} {ms:8.2f} ms".rjust(30))
        print(f"{row['file'][:42]:42} {row['expected'] or '-':10} " + " ".join(cells))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per page and tool")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # htmldate logs every page it cannot date
    summary = run(args.reps)
    for name in TOOLS:
        s = summary[name]
        print(
            f"{name:20} {s['ms_per_page']:8.3f} ms/page (median page {s['ms_median_page']:.3f} ms)"
            f"  accuracy {s['accuracy']:.0%}"
        )
    print(
        f"speedup vs htmldate extensive: {summary['speedup_vs_htmldate_extensive']}x, "
        f"vs fast: {summary['speedup_vs_htmldate_fast']}x"
    )
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
