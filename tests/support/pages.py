"""Reading generated HTML pages and SVG charts the way a person sees them: visible text, lines, bars."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class TextOf(HTMLParser):
    """The visible text of a page, element by element, outside <style> and <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.chunks.append(data.strip())


def visible_text(page: str) -> list[str]:
    """The page's text chunks in document order."""
    parser = TextOf()
    parser.feed(page)
    return parser.chunks


def polylines(svg: str) -> list[list[tuple[float, float]]]:
    """The pixel points of every line drawn in ``svg``."""
    found = re.findall(r'<polyline [^>]*points="([^"]*)"', svg)
    return [[tuple(map(float, pair.split(","))) for pair in points.split()] for points in found]


def charts(page: str) -> dict[str, str]:
    """Every inline SVG of ``page`` by its accessible name."""
    return {m.group(1): m.group(0) for m in re.finditer(r'<svg [^>]*aria-label="([^"]*)".*?</svg>', page, re.S)}


def table_rows(html: str) -> list[list[str]]:
    """The visible text of each row of the (first) table in ``html``, header row included."""
    table = re.search(r"<table[^>]*>(.*?)</table>", html, re.S)
    return [visible_text(row) for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)] if table else []
