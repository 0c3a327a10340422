"""JSON-lines files: the one reader and writer for every ``*.jsonl`` a run keeps.

A reader must survive what a crash or a user leaves behind: a line cut short, garbage
bytes, a line that holds JSON but not an object. Such lines are skipped, never raised.
Rewrites (truncation at a resume) are atomic; appends add one whole line at a time.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

from .atomic import atomic_write_bytes


def read_jsonl(path: str | Path) -> list[dict]:
    """Every JSON object in ``path``, one per line, in order.

    Returns ``[]`` for a missing file. Lines that are not UTF-8, not JSON, or JSON that is
    not an object (a list, a number) are skipped.
    """
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for raw in path.read_bytes().splitlines():
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue  # a line cut short by a crash, or garbage
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _dumps(row: dict) -> str:
    # NaN / inf are not JSON; they are written as null so every reader can parse the line
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
    return json.dumps(clean)


def append_jsonl(path: str | Path, rows: dict | Iterable[dict]) -> None:
    """Append one row (a dict) or several rows to ``path``, one JSON object per line."""
    rows = [rows] if isinstance(rows, dict) else list(rows)
    if not rows:
        return
    with open(path, "a") as f:
        f.write("".join(_dumps(r) + "\n" for r in rows))


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Replace ``path`` atomically with one JSON line per row."""
    text = "".join(_dumps(r) + "\n" for r in rows)
    atomic_write_bytes(Path(path), lambda f: f.write(text.encode()))


def step_of(row: dict) -> int:
    """A row's ``step`` as an int (0 where it is missing or not a number)."""
    step = row.get("step", 0)
    return int(step) if isinstance(step, (int, float)) and not isinstance(step, bool) and math.isfinite(step) else 0


def truncate_jsonl(path: str | Path, after_step: int) -> None:
    """Drop rows logged after ``after_step`` (they belong to work a resume redoes)."""
    path = Path(path)
    if path.is_file():
        write_jsonl(path, [r for r in read_jsonl(path) if step_of(r) <= after_step])
