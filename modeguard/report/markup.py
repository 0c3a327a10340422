"""HTML building blocks of the reports: the page with its style sheet, tables, embedded
PNGs, sample grids and event tags. Every text that goes in is escaped here."""
from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np

__all__ = ["CSS", "MAX_SAMPLE_PICTURES", "Raw", "bullet_list", "fmt", "img_tag", "page", "sample_grid", "table",
           "tag"]

#: sample pictures a grid shows at most (the first, the last, and evenly spread between)
MAX_SAMPLE_PICTURES = 10

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #212529; line-height: 1.45; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #dee2e6; padding-bottom: 4px; margin-top: 1.6em; }
.sub { color: #6c757d; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.92em; }
th, td { border: 1px solid #dee2e6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f3f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-size: 1.15em; padding: 10px 14px; border-radius: 6px; background: #e7f5ff; border-left: 5px solid #1971c2; }
.verdict.bad { background: #fff5f5; border-left-color: #e03131; } .verdict.ok { background: #ebfbee; border-left-color: #2f9e44; }
img { max-width: 100%; } .grid { display: flex; flex-wrap: wrap; gap: 8px; }
.grid figure { margin: 0; width: 200px; } .grid figcaption { font-size: 0.85em; color: #495057; text-align: center; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; color: white; font-size: 0.85em; }
ul { margin-top: 4px; }
"""


class Raw(str):
    """Table cell HTML that is already escaped (:func:`table` puts it in as it is)."""


def img_tag(png: bytes, alt: str) -> str:
    """An ``<img>`` that carries ``png`` inline as base64 (the page fetches nothing)."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def fmt(v) -> str:
    """A cell's text: ints as they are, finite floats to 4 significant digits, the rest escaped."""
    if isinstance(v, (bool, int)):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return html.escape(str(v))


def _cell(c) -> str:
    if isinstance(c, (int, float)) and not isinstance(c, bool):
        return f'<td class="num">{fmt(c)}</td>'
    return f"<td>{c if isinstance(c, Raw) else fmt(c)}</td>"


def table(headers: list[str], rows: list[list]) -> str:
    """An HTML table: numbers right-aligned, :class:`Raw` cells as they are, the rest escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def bullet_list(items: list[str]) -> str:
    """An ``<ul>`` of the escaped ``items``."""
    return "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in items) + "</ul>"


def tag(kind: str, color: str) -> str:
    """A coloured label naming an event ``kind``."""
    return f'<span class="tag" style="background:{color}">{html.escape(kind)}</span>'


def _caption(path: Path, prefix: str) -> str:
    if path.stem.startswith("step-"):
        return f"{prefix}step {path.stem.split('-')[-1].lstrip('0') or '0'}"
    return path.stem.replace("_", " ")


def sample_grid(paths: list[Path], caption_prefix: str = "") -> str:
    """A grid of the PNG pictures in ``paths`` with their step as caption; at most
    :data:`MAX_SAMPLE_PICTURES` (the first, the last, spread between); ``""`` for none."""
    if not paths:
        return ""
    if len(paths) > MAX_SAMPLE_PICTURES:
        idx = np.unique(np.linspace(0, len(paths) - 1, MAX_SAMPLE_PICTURES).round().astype(int))
        paths = [paths[i] for i in idx]
    figs = []
    for p in paths:
        caption = _caption(p, caption_prefix)
        figs.append(f"<figure>{img_tag(p.read_bytes(), caption)}<figcaption>{html.escape(caption)}</figcaption></figure>")
    return f'<div class="grid">{"".join(figs)}</div>'


def page(title: str, body: str) -> str:
    """A whole HTML document: the escaped ``title``, the style sheet and ``body`` as it is."""
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")
