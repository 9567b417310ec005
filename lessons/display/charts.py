"""Geometry for small server-rendered SVG line charts on log-log axes (no chart library).

Both axes are logarithmic because the datasets grow by factors of 20 and 50: on linear axes the
laptop and staging points would sit on top of each other."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 420, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 30, 30, 44


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str


# Each side has its own marker shape (and, in the stylesheet, its own dash), so the lines differ
# without their colours: a square for bad, a circle for fixed, a triangle otherwise. Paths around
# (0, 0), placed on each point with a translate.
MARKERS = {
    "bad": "M-4.5,-4.5h9v9h-9z",
    "fixed": "M-5,0a5,5 0 1,0 10,0a5,5 0 1,0 -10,0",
}
TRIANGLE = "M0,-5.5L5.5,4.5H-5.5z"


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def marker(self) -> str:
        return MARKERS.get(self.css, TRIANGLE)

    @property
    def end(self) -> Point:
        """Where the line's own name is written: its last point."""
        return self.points[-1]


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT
    top: int = TOP


def _decades(values: Sequence[float]) -> tuple[int, int]:
    low = math.floor(math.log10(min(values)))
    high = math.ceil(math.log10(max(values)))
    return low, max(high, low + 1)


def _format(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def log_log_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[tuple[str, str, Sequence[tuple[float, float]]]],
    floor: float = 0.1,
) -> Chart:
    """`series` is (name, css class, [(x, y), ...]); values below `floor` are drawn at it."""
    xs = [x for _, _, points in series for x, _ in points]
    ys = [max(y, floor) for _, _, points in series for _, y in points]
    x_low, x_high = _decades(xs)
    y_low, y_high = _decades(ys)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (math.log10(x) - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (math.log10(max(y, floor)) - y_low) / (y_high - y_low) * plot_h

    return Chart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        x_ticks=tuple(Tick(px(10**d), _format(10**d)) for d in range(x_low, x_high + 1)),
        y_ticks=tuple(Tick(py(10**d), _format(10**d)) for d in range(y_low, y_high + 1)),
        lines=tuple(
            Line(name, css, tuple(Point(px(x), py(y), _format(y)) for x, y in points))
            for name, css, points in series
        ),
    )
