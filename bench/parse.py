"""Benchmark govwatch's list-page extractor against htmldate on the real and the synthetic corpus.

Usage: python bench/parse.py [--reps N] [--pages] [--holdout]

Real corpus: tests/fixtures/real (reduced real column pages, hand-checked labels). Synthetic corpus:
tests/fixtures/pages (written by this project's team). For every page and tool it measures CPU time
(time.process_time) per call after one warm-up pass, and grades the answer against the expected newest
date: right, null (no date where there is one), older, newer (the worst: a stale column shown fresh).
Prints a table per corpus (--pages: every page too), then one JSON object as the last line, the real
corpus first. --holdout: only the real pages labelled as a hold-out batch (taken, labelled and measured
before the extractor was changed for them), by batch.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from htmldate import find_date  # noqa: E402
from htmldate.meta import reset_caches  # noqa: E402

from monitor.extract.listpage import extract_list  # noqa: E402
from tests.corpus_reduce import decode  # noqa: E402
from tests.real_corpus import OUTCOMES, outcome  # noqa: E402
from tests.real_corpus import load as load_real  # noqa: E402

SYNTHETIC = ROOT / "tests" / "fixtures" / "pages"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    url: str
    today: date
    want: str | None
    content_type: str


Tool = Callable[[Case], str | None]


def govwatch(case: Case) -> str | None:
    found = extract_list(case.text, case.url, case.today, case.content_type).newest_date
    return found.isoformat() if found else None


def htmldate_extensive(case: Case) -> str | None:
    return find_date(case.text, extensive_search=True, original_date=False, outputformat="%Y-%m-%d")


def htmldate_fast(case: Case) -> str | None:
    return find_date(case.text, extensive_search=False, original_date=False, outputformat="%Y-%m-%d")


TOOLS: dict[str, Tool] = {
    "govwatch": govwatch,
    "htmldate_extensive": htmldate_extensive,
    "htmldate_fast": htmldate_fast,
}


def real_cases(holdout: str | None = None) -> list[Case]:
    return [
        Case(p.name, p.text, p.url, p.today, p.newest, "text/html")
        for p in load_real()
        if holdout is None or p.label.get("holdout") == holdout
    ]


def synthetic_cases() -> list[Case]:
    manifest = json.loads((SYNTHETIC / "expected.json").read_text(encoding="utf-8"))
    return [
        Case(
            name,
            decode((SYNTHETIC / name).read_bytes())[0],
            spec["url"],
            date.fromisoformat(spec["today"]),
            spec["newest_date"],
            "application/json" if name.endswith(".json") else "text/html",
        )
        for name, spec in sorted(manifest.items())
    ]


def measure(tool: Tool, case: Case, reps: int) -> tuple[str | None, float]:
    """The tool's answer and the median CPU milliseconds of ``reps`` calls.

    htmldate memoises date strings across calls; its caches are cleared (untimed) before each call so
    that repeating a page measures what a daemon seeing new pages pays.
    """
    times = []
    answer = None
    for _ in range(reps):
        if tool is not govwatch:
            reset_caches()
        start = time.process_time()
        answer = tool(case)
        times.append((time.process_time() - start) * 1000)
    return answer, statistics.median(times)


def run_corpus(cases: list[Case], reps: int, show_pages: bool) -> dict:
    for tool in TOOLS.values():  # warm-up: imports, regex caches, htmldate's cold start
        for case in cases:
            tool(case)
    counts = {name: Counter() for name in TOOLS}
    times: dict[str, list[float]] = {name: [] for name in TOOLS}
    for case in cases:
        cells = []
        for name, tool in TOOLS.items():
            answer, ms = measure(tool, case, reps)
            graded = outcome(answer, case.want)
            counts[name][graded] += 1
            times[name].append(ms)
            cells.append(f"{graded:5} {answer or '-':10} {ms:7.2f} ms".rjust(30))
        if show_pages:
            print(f"{case.name[:40]:40} {case.want or '-':10} " + " ".join(cells))
    summary: dict = {"pages": len(cases)}
    for name in TOOLS:
        summary[name] = {
            **{o: counts[name][o] for o in OUTCOMES},
            "right_share": round(counts[name]["right"] / len(cases), 3),
            "ms_mean": round(statistics.fmean(times[name]), 3),
            "ms_median": round(statistics.median(times[name]), 3),
        }
    return summary


def print_table(title: str, summary: dict) -> None:
    print(f"\n{title}: {summary['pages']} pages")
    print(f"{'tool':20} {'right':>11} {'null':>5} {'older':>6} {'newer':>6} {'ms mean':>8} {'ms median':>10}")
    for name in TOOLS:
        s = summary[name]
        right = f"{s['right']} ({100 * s['right'] // summary['pages']}%)"  # rounded down: 194 of 195 is not 100 %
        print(
            f"{name:20} {right:>11} {s['null']:>5} {s['older']:>6} {s['newer']:>6}"
            f" {s['ms_mean']:>8.2f} {s['ms_median']:>10.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per page and tool")
    parser.add_argument("--pages", action="store_true", help="print every page's answers")
    parser.add_argument("--holdout", action="store_true", help="only the real corpus's hold-out batches")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # htmldate logs every page it cannot date
    if args.holdout:
        batches = sorted({p.label["holdout"] for p in load_real() if p.label.get("holdout")})
        summaries = {}
        for batch in batches:
            summaries[batch] = run_corpus(real_cases(batch), args.reps, args.pages)
            print_table(f"Real corpus, hold-out {batch}", summaries[batch])
        print(json.dumps({"holdout": summaries, "reps": args.reps}, ensure_ascii=False))
        return
    real = run_corpus(real_cases(), args.reps, args.pages)
    synthetic = run_corpus(synthetic_cases(), args.reps, args.pages)
    print_table("Real corpus (tests/fixtures/real)", real)
    print_table("Synthetic corpus (tests/fixtures/pages)", synthetic)
    print(json.dumps({"real": real, "synthetic": synthetic, "reps": args.reps}, ensure_ascii=False))


if __name__ == "__main__":
    main()
