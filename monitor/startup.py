"""Problems that keep the daemon from starting — the board's address taken, the store that cannot be opened — each
said in one line, in Chinese and English, with the setting or flag that fixes it. ``govwatch run`` and
``govwatch demo`` print that line and exit 2, without a traceback."""

from __future__ import annotations

import errno
import socket
import sqlite3
from collections.abc import Mapping
from pathlib import Path


class StartupError(Exception):
    """What is wrong (``zh``, ``en``: the problem and what to do) and which setting fixes it."""

    def __init__(self, setting: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.setting, self.zh, self.en = setting, zh, en

    def line(self, flags: Mapping[str, str]) -> str:
        """One line for the terminal or the journal; ``flags`` names how the command sets each setting."""
        where = flags.get(self.setting, f"settings.{self.setting}")
        return f"govwatch 无法启动：{self.zh}（{where}）。Cannot start: {self.en} ({where})."


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8470`` for IPv6) as (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise StartupError("listen", f"看板地址“{text}”应写作 主机:端口，如 127.0.0.1:8470",
                           f"the board address {text!r} must be HOST:PORT, e.g. 127.0.0.1:8470")
    return host.strip("[]"), int(port)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket for the board, or the reason there is none (before anything else starts)."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror:
        raise StartupError("listen", f"看板地址中的主机“{host}”无法解析，请写本机的 IP 地址，如 127.0.0.1",
                           f"the board's host {host!r} does not resolve; give an address of this machine, "
                           "e.g. 127.0.0.1") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError("listen", f"看板地址 {where} 已被占用（另一个 govwatch 或其他程序），请换一个端口",
                               f"the board address {where} is already in use (another govwatch or another "
                               "program); choose another port") from None
        if exc.errno == errno.EACCES:
            raise StartupError("listen", f"无权监听端口 {port}（1024 以下的端口需要特权），请用 1024 以上的端口",
                               f"no permission to listen on port {port} (ports below 1024 need privileges); "
                               "use a port above 1024") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise StartupError("listen", f"本机没有地址 {host}，请写本机的 IP 地址，如 127.0.0.1",
                               f"this machine has no address {host}; give one of its addresses, e.g. "
                               "127.0.0.1") from None
        raise StartupError("listen", f"无法监听 {where}：{exc.strerror}",
                           f"cannot listen on {where}: {exc.strerror}") from None
    return sock


def store_problem(path: str, exc: BaseException) -> StartupError:
    """Why the store at ``path`` cannot be opened, from the error SQLite or the system gave."""
    store, text = Path(path), str(exc).lower()
    if not store.parent.is_dir():
        zh = f"存储目录 {store.parent} 不存在，请先建立它"
        en = f"the store's folder {store.parent} does not exist; create it"
    elif store.is_dir():
        zh, en = f"存储路径 {store} 是一个目录，请写文件路径", f"the store {store} is a folder; give a file path"
    elif isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        zh = f"{store} 不是 SQLite 数据库文件，请换一个文件名"
        en = f"{store} is not an SQLite database; give another file"
    elif "full" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        zh, en = f"存储 {store} 所在的磁盘已满，请腾出空间", f"the disk of the store {store} is full; free some space"
    elif "readonly" in text or "unable to open" in text or isinstance(exc, PermissionError):
        zh, en = (f"无法写入存储 {store}（只读或无权限），请让 govwatch 的用户可写该文件及其目录",
                  f"cannot write the store {store} (read-only or no permission); let govwatch's user write the "
                  "file and its folder")
    else:
        zh, en = f"无法打开存储 {store}：{exc}", f"cannot open the store {store}: {exc}"
    return StartupError("store", zh, en)
