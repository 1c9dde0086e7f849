"""Small charts drawn as SVG on the server: no JavaScript, no charting library, nothing fetched.

Each function returns the SVG as :class:`markupsafe.Markup` with ``role="img"`` and a name
(``aria-label``); the page always shows the same numbers in a table next to it, which is what
screen readers read. Every text inside is escaped. Colours come from the Okabe–Ito palette
(distinguishable with colour-blindness) and every series also has its own dash pattern, so no
meaning rests on colour alone.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Okabe–Ito colours dark enough for 3:1 contrast on white, then black.
COLOURS = ("#0072B2", "#D55E00", "#007A5E", "#AA4499", "#8C6D00", "#1F5F8B", "#B03A2E", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4", "3 2 1 2")
TEXT = "#212529"
GRID = "#d0d4d9"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Series:
    label: str
    #: (day, value) pairs in order; values between 0 and the chart's maximum.
    points: Sequence[tuple[dt.date, float]]


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _open(width: int, height: int, label: str, css: str = "chart") -> str:
    return (f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">')


def style(i: int) -> tuple[str, str]:
    """(colour, dash pattern) of series *i*, for the chart and its legend."""
    return COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)]


def line_chart(series: Sequence[Series], *, start: dt.date, end: dt.date, label: str, y_max: float = 100,
               unit: str = "%", width: int = 640, height: int = 260) -> Markup:
    """Lines over a span of dates (e.g. the school year), with monthly ticks and a 0–*y_max* axis."""
    left, right, top, bottom = 44, 12, 12, 30
    w, h = width - left - right, height - top - bottom
    days = max((end - start).days, 1)

    def x(day: dt.date) -> float:
        return left + w * min(max((day - start).days, 0), days) / days

    def y(v: float) -> float:
        return top + h * (1 - min(max(v, 0), y_max) / y_max)

    out = [_open(width, height, label)]
    for frac in (0, 0.25, 0.5, 0.75, 1):
        v = y_max * frac
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{_num(y(v))}" y2="{_num(y(v))}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{_num(y(v) + 4)}" text-anchor="end" font-size="11" '
                   f'fill="{TEXT}">{_num(v)}{escape(unit)}</text>')
    month = dt.date(start.year, start.month, 1)
    while month <= end:
        if month >= start:
            out.append(f'<line x1="{_num(x(month))}" x2="{_num(x(month))}" y1="{top + h}" y2="{top + h + 4}" '
                       f'stroke="{TEXT}"/>')
        mid = min(month + dt.timedelta(days=14), end)
        if mid >= start:
            name = MONTHS[month.month - 1] if width >= 480 else MONTHS[month.month - 1][0]
            out.append(f'<text x="{_num(x(mid))}" y="{height - 10}" text-anchor="middle" font-size="11" '
                       f'fill="{TEXT}">{name}</text>')
        month = dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    out.append(f'<line x1="{left}" x2="{left + w}" y1="{top + h}" y2="{top + h}" stroke="{TEXT}"/>')
    for i, s in enumerate(series):
        colour, dash = style(i)
        pts = " ".join(f"{_num(x(d))},{_num(y(v))}" for d, v in s.points)
        if not pts:
            continue
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr} points="{pts}"/>')
        last_d, last_v = s.points[-1]
        out.append(f'<circle cx="{_num(x(last_d))}" cy="{_num(y(last_v))}" r="3.5" fill="{colour}"/>')
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(values: Sequence[float], *, label: str, y_max: float = 100, width: int = 120,
              height: int = 32) -> Markup:
    """A small line with a dot at its end (the trend of one number)."""
    out = [_open(width, height, label, "sparkline")]
    if values:
        n = max(len(values) - 1, 1)
        pts = [(2 + (width - 6) * i / n, 2 + (height - 4) * (1 - min(max(v, 0), y_max) / y_max))
               for i, v in enumerate(values)]
        out.append(f'<polyline fill="none" stroke="{COLOURS[0]}" stroke-width="2" '
                   f'points="{" ".join(f"{_num(a)},{_num(b)}" for a, b in pts)}"/>')
        out.append(f'<circle cx="{_num(pts[-1][0])}" cy="{_num(pts[-1][1])}" r="2.5" fill="{COLOURS[0]}"/>')
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(rows: Sequence[tuple[str, float]], *, label: str, width: int = 640, unit: str = "") -> Markup:
    """Horizontal bars, one per row, the value written at the end of each bar."""
    bar_h, gap, left, right, top = 22, 8, 200, 48, 6
    height = top * 2 + len(rows) * (bar_h + gap)
    top_value = max([v for _, v in rows] + [1])
    w = width - left - right
    out = [_open(width, max(height, 40), label)]
    for i, (name, value) in enumerate(rows):
        y0 = top + i * (bar_h + gap)
        out.append(f'<text x="{left - 8}" y="{y0 + bar_h * 0.7:.1f}" text-anchor="end" font-size="12" '
                   f'fill="{TEXT}">{escape(name)}</text>')
        bw = w * value / top_value
        out.append(f'<rect x="{left}" y="{y0}" width="{_num(bw)}" height="{bar_h}" fill="{COLOURS[0]}"/>')
        out.append(f'<text x="{_num(left + bw + 6)}" y="{y0 + bar_h * 0.7:.1f}" font-size="12" '
                   f'fill="{TEXT}">{_num(value)}{escape(unit)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def column_chart(rows: Sequence[tuple[str, float]], *, label: str, limit_after: int | None = None,
                 limit_label: str = "", width: int = 640, height: int = 240) -> Markup:
    """Vertical columns (months, or a histogram of days). With *limit_after*, a dashed line is
    drawn after that column (a target) and the columns beyond it are drawn in the second colour."""
    left, right, top, bottom = 36, 12, 22, 30
    w, h = width - left - right, height - top - bottom
    top_value = max([v for _, v in rows] + [1])
    slot = w / max(len(rows), 1)
    out = [_open(width, height, label)]
    out.append(f'<line x1="{left}" x2="{left + w}" y1="{top + h}" y2="{top + h}" stroke="{TEXT}"/>')
    for i, (name, value) in enumerate(rows):
        bh = h * value / top_value
        x0 = left + i * slot + slot * 0.15
        fill = COLOURS[1] if limit_after is not None and i > limit_after else COLOURS[0]
        out.append(f'<rect x="{_num(x0)}" y="{_num(top + h - bh)}" width="{_num(slot * 0.7)}" height="{_num(bh)}" '
                   f'fill="{fill}"/>')
        if value:
            out.append(f'<text x="{_num(x0 + slot * 0.35)}" y="{_num(top + h - bh - 4)}" text-anchor="middle" '
                       f'font-size="11" fill="{TEXT}">{_num(value)}</text>')
        out.append(f'<text x="{_num(x0 + slot * 0.35)}" y="{height - 10}" text-anchor="middle" font-size="11" '
                   f'fill="{TEXT}">{escape(name)}</text>')
    if limit_after is not None and 0 <= limit_after < len(rows) - 1:
        lx = left + slot * (limit_after + 1)
        out.append(f'<line x1="{_num(lx)}" x2="{_num(lx)}" y1="{top - 8}" y2="{top + h}" stroke="{TEXT}" '
                   f'stroke-width="2" stroke-dasharray="6 4"/>')
        if limit_label:
            out.append(f'<text x="{_num(lx + 4)}" y="{top - 10 + 12}" font-size="11" fill="{TEXT}">'
                       f'{escape(limit_label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
