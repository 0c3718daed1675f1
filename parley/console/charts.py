"""Charts drawn on the server as inline SVG: no script, no build step, nothing fetched from
elsewhere, and the page prints and screenshots as it shows. Each bar has a <title> tooltip
with its exact value."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

RIGHT, TOP, BOTTOM = 8, 12, 28
CHAR = 6.6  # the width of one axis-label character at 11px, roughly


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the class that colours it (console.css)
    values: Sequence[float]


def _nice_top(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    while power > value:
        power /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    label: Callable[[float], str],
    caption: str,
    *,
    size: tuple[int, int] = (720, 240),
    css: str = "",
) -> Markup:
    """Bars per label, one segment per series, stacked bottom-up in the order given. `size`
    is the drawing's own width and height: a phone gets a narrower one, so its text stays
    legible once scaled to the screen."""
    WIDTH, HEIGHT = size
    count = max(1, len(labels))
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = 4 * _nice_top(max(totals, default=0) / 4)  # four gridlines at round values
    ticks = [label(top * step / 4) for step in range(5)]
    LEFT = round(10 + CHAR * max(len(t) for t in ticks))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / count
    bar = max(1.0, slot * 0.72)
    parts = [
        f'<svg class="chart {css}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(caption)}" preserveAspectRatio="xMidYMid meet">'
    ]
    for step in range(5):
        y = TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(ticks[step])}</text>"
        )
    every = max(1, math.ceil(count * 8 * CHAR / plot_w))  # room for 8 characters a label
    for i, name in enumerate(labels):
        x = LEFT + slot * i + (slot - bar) / 2
        y = TOP + plot_h
        for s in series:
            value = s.values[i]
            height = plot_h * value / top
            if height > 0:
                y -= height
                parts.append(
                    f'<rect class="{s.css}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                    f'height="{height:.1f}"><title>{escape(name)} · {escape(s.name)}: '
                    f"{escape(label(value))}</title></rect>"
                )
        if i % every == 0:
            parts.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(name)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
