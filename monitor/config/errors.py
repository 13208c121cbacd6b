"""Inventory problems: each with its file, line (or Excel row), field, what is wrong and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_QUOTE = 80  # characters of a value a message quotes (a cell or a field may hold a megabyte)
MAX_MESSAGE = 600  # characters of a whole message: its start and its end (the fix) are kept


def quote(value: Any, limit: int = MAX_QUOTE) -> str:
    """``value`` as a message quotes it (repr), cut to ``limit`` characters with an ellipsis."""
    if not isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else text[:limit] + "…"
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _clip(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    head = MAX_MESSAGE * 2 // 3
    return text[:head] + " … " + text[-(MAX_MESSAGE - head - 3):]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    line: int | None  # 1-based line (YAML) or row (Excel)
    field: str  # the field's path (YAML), or the column's header (a sheet)
    message: str
    zh: str = ""  # in Chinese, for a sheet's user: what is wrong and what to write (when the problem knows it)
    sheet: str | None = None  # the sheet's name, for a problem in a spreadsheet

    def __post_init__(self) -> None:  # whatever a message quotes, it stays a line to read
        object.__setattr__(self, "message", _clip(self.message))
        object.__setattr__(self, "zh", _clip(self.zh))
        object.__setattr__(self, "field", _clip(self.field))

    def __str__(self) -> str:
        if self.sheet is not None:  # an office's sheet: said in Chinese, by sheet, row and column header
            where = f"{self.file} 工作表「{self.sheet}」" + (f"第 {self.line} 行" if self.line else "")
            return f"{where}「{self.field}」列：{self.message}" if self.field else f"{where}：{self.message}"
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


MAX_LISTED = 100  # problems shown per file; a sheet of two million bad rows is counted, not printed


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems[:MAX_LISTED]))
        self.problems = problems

    def listed(self) -> tuple[list[str], int]:
        """The first MAX_LISTED problems as text, and how many more there are."""
        return [str(p) for p in self.problems[:MAX_LISTED]], max(len(self.problems) - MAX_LISTED, 0)
