"""Which backend ``settings.store`` names, and how to show it without its password."""

from __future__ import annotations


def is_postgres(location: str) -> bool:
    """Whether ``settings.store`` names a PostgreSQL database (a libpq URI) rather than a SQLite file."""
    return str(location).startswith(("postgresql://", "postgres://"))


def masked(location: str) -> str:
    """A store's location fit for logs and messages: a PostgreSQL URI without its password."""
    head, sep, tail = str(location).partition("://")
    userinfo, at, rest = tail.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return str(location)
    return f"{head}{sep}{userinfo.split(':', 1)[0]}:***@{rest}"
