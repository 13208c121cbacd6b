"""Header values read from the environment or from credentials files, when the inventory is loaded.

A value is never written in the inventory and never shown: it becomes a ``Secret`` (masked in every repr), and
a problem reading it names the variable or the file, never what was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from monitor.config.schema import HeaderValue, InventoryModel
from monitor.model import Headers, Secret

CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"  # where systemd's LoadCredential= puts credentials


def header_value(spec: HeaderValue, environ: Mapping[str, str]) -> str:
    """One header's value; ``ValueError`` saying what to fix when it cannot be read."""
    if spec.value is not None:
        value = spec.value
    elif spec.env is not None:
        if spec.env not in environ:
            raise ValueError(f"environment variable {spec.env} is not set; set it in the service's environment "
                             "(systemd: Environment= or EnvironmentFile=) or read the value from a file: {file: PATH}")
        value = environ[spec.env].strip()
        if not value:
            raise ValueError(f"environment variable {spec.env} is empty; set it to the value")
    else:
        value = _read(spec.file or "", environ)
    value = spec.prefix + value
    if any(c in value for c in "\r\n\0"):
        raise ValueError("the value holds a line break; a header value is one line")
    return value


def _read(name: str, environ: Mapping[str, str]) -> str:
    path = Path(name)
    if not path.is_absolute():
        base = environ.get(CREDENTIALS_DIRECTORY)
        if not base:
            raise ValueError(f"{name!r} is a relative path and ${CREDENTIALS_DIRECTORY} is not set; give an absolute "
                             "path, or load it with systemd's LoadCredential= (which sets that directory)")
        path = Path(base) / path
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ValueError(f"credentials file {path} does not exist; create it (mode 0600, owned by govwatch's user) "
                         "or fix the path") from None
    except PermissionError:
        raise ValueError(f"cannot read credentials file {path}: permission denied; let govwatch's user read it, "
                         "or load it with systemd's LoadCredential=") from None
    except UnicodeDecodeError:
        raise ValueError(f"credentials file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"cannot read credentials file {path}: {exc.strerror or type(exc).__name__}") from None
    if not value:
        raise ValueError(f"credentials file {path} is empty; write the value in it")
    return value


def resolve_headers(specs: Mapping[str, HeaderValue], environ: Mapping[str, str],
                    ) -> tuple[Headers, dict[str, str]]:
    """The headers that could be read, and a problem per header that could not (by header name)."""
    headers: list[tuple[str, Secret]] = []
    problems: dict[str, str] = {}
    for name, spec in specs.items():
        try:
            headers.append((name, Secret(header_value(spec, environ))))
        except ValueError as exc:
            problems[name] = str(exc)
    return tuple(headers), problems


def secrets_written(model: InventoryModel) -> list[str]:
    """Where the inventory writes a secret itself (rather than naming a variable or a file): the API token, the MQTT
    password, receivers' URLs (a 企业微信/钉钉/飞书 robot's key, a mail password) and header values."""
    mqtt = model.settings.mqtt
    places = [name for name, present in (("settings.token", model.settings.token),
                                         ("settings.mqtt.password", mqtt is not None and mqtt.password),
                                         ("units[].receivers[].url", any(u.receivers for u in model.units)))
              if present]
    sources = [a.source.headers for a in model.accounts if a.source] + [b.headers for b in model.bridges]
    if any(h.value is not None for headers in sources for h in headers.values()):
        places.append("headers: {value: …}")
    return places
