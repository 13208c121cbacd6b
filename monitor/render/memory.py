"""Memory of a process and its descendants (the renderer: Python, Playwright's driver, Chromium's processes).

RSS counts each shared page once per process, so Chromium's dozen processes add up to about twice what they
cost; PSS shares each page among the processes that map it and adds up to the real cost. Both are reported;
the renderer's restart bound is on PSS.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TreeMemory:
    processes: int
    rss_mb: float
    pss_mb: float


def tree_memory(pid: int, include_self: bool = True) -> TreeMemory:
    """RSS and PSS (MB) of ``pid`` and all its descendants; processes gone meanwhile are skipped."""
    try:
        root = psutil.Process(pid)
        procs = ([root] if include_self else []) + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return TreeMemory(0, 0.0, 0.0)
    count, rss, pss = 0, 0, 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        count += 1
        rss += info.rss
        pss += info.pss
    return TreeMemory(count, rss / MB, pss / MB)
