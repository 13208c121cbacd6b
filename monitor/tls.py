"""TLS client contexts for the fetcher and the certificate reader: the system's CAs plus, when configured, a
private CA file (e.g. a 政务外网 CA)."""

from __future__ import annotations

import ssl


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context trusting the system's CAs and, when given, those in ``ca_file``."""
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx
