"""Structured JSON logs (structlog) to stderr, where systemd's journal picks them up."""

from __future__ import annotations

import logging
import sys

import structlog


def setup(level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=numeric)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


class Throttle:
    """One log line per ``every_s`` seconds for a thing that can repeat without end (pure: takes ``now``)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.last: float | None = None
        self.held = 0

    def allow(self, now: float) -> int | None:
        """None to hold this one back; else how many were held back since the last one let through."""
        if self.last is not None and now - self.last < self.every_s:
            self.held += 1
            return None
        held, self.held, self.last = self.held, 0, now
        return held
