"""SVG charts drawn at build time: stacked bars and lines, no JavaScript, no fonts to load.

A stable interface (the monthly report and the static site's stats page both use it):

    bar_chart(categories, series, *, title, unit="") -> str
    line_chart(categories, series, *, title, unit="") -> str

`categories` are the labels along the x axis, in order. `series` maps a series name
(shown in the legend, in the dict's order) to one value per category: finite numbers
>= 0; `line_chart` also takes None for "no value" (the line breaks there). The y axis
starts at 0 and ends at a round number; `unit` labels it ("incidents", "hours").

The result is one `<svg>` element (XML, with the SVG namespace), fit to inline in
HTML or save as a .svg file: a `<title>` and a `<desc>` for screen readers
(`role="img"`), axes, grid lines, tick labels, a legend, and a `<title>` tooltip on
every bar and point. Every text given is escaped (and control or bidi characters
written as `\\x1b`-style escapes first, as all incidentctl output), so a title holding
`<script>` is text. The output depends only on the arguments: the same call gives the
same bytes (numbers are written with at most two decimals; ids come from a hash of
the content, so two charts on one page do not share one).
"""

from __future__ import annotations

import hashlib
import math
from html import escape

from ..safetext import safe

WIDTH = 640
HEIGHT = 320
LEFT, RIGHT, TOP = 64, 16, 40
FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12"'
# Okabe-Ito: told apart with the common colour vision deficiencies; series past the
# eighth reuse them (the legend and tooltips still tell them apart).
PALETTE = ("#d55e00", "#e69f00", "#0072b2", "#009e73", "#cc79a7", "#56b4e9", "#f0e442", "#000")
DASHES = ("", ' stroke-dasharray="6 3"', ' stroke-dasharray="2 3"', ' stroke-dasharray="8 3 2 3"')
CHAR_WIDTH = 6.6  # about one character of the 12px font, for laying out labels


def bar_chart(
    categories: list[str], series: dict[str, list[float]], *, title: str, unit: str = ""
) -> str:
    """Stacked bars: one bar per category, one segment per series (first at the bottom),
    the bar's total above it. E.g. incidents per month by severity."""
    _check(categories, series, allow_none=False)
    totals = [math.fsum(values[i] for values in series.values()) for i in range(len(categories))]
    chart = _Frame(categories, list(series), max(totals, default=0.0), title, unit)
    slot = chart.slot
    width = slot * 0.6
    out = []
    for i, category in enumerate(categories):
        x = chart.x(i) - width / 2
        base = 0.0
        for n, (name, values) in enumerate(series.items()):
            value = float(values[i])
            if value <= 0:
                continue
            y0, y1 = chart.y(base), chart.y(base + value)
            tip = f"{name}, {category}: {_num(value)}{_unit(unit)}"
            out.append(
                f'<rect x="{_n(x)}" y="{_n(y1)}" width="{_n(width)}" height="{_n(y0 - y1)}" '
                f'fill="{_colour(n)}"><title>{_text(tip)}</title></rect>'
            )
            base += value
        if totals[i] > 0:
            out.append(
                f'<text x="{_n(chart.x(i))}" y="{_n(chart.y(totals[i]) - 4)}" '
                f'text-anchor="middle" fill="#333">{_num(totals[i])}</text>'
            )
    summary = "; ".join(f"{category}: {_num(totals[i])}" for i, category in enumerate(categories))
    return chart.svg("\n".join(out), summary, kind="square")


def line_chart(
    categories: list[str], series: dict[str, list[float | None]], *, title: str, unit: str = ""
) -> str:
    """One line per series across the categories, a dot on every value; a None leaves a
    gap. E.g. the median and p90 time to resolve per month."""
    _check(categories, series, allow_none=True)
    top = max((float(v) for values in series.values() for v in values if v is not None), default=0)
    chart = _Frame(categories, list(series), top, title, unit)
    out = []
    for n, (name, values) in enumerate(series.items()):
        colour, dash = _colour(n), DASHES[n % len(DASHES)]
        run: list[str] = []
        for i, value in enumerate([*values, None]):  # the None ends the last run
            if value is None:
                if len(run) > 1:
                    out.append(
                        f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                        f'stroke-width="2"{dash}/>'
                    )
                run = []
                continue
            point = (chart.x(i), chart.y(float(value)))
            run.append(f"{_n(point[0])},{_n(point[1])}")
        for i, value in enumerate(values):
            if value is not None:
                tip = f"{name}, {categories[i]}: {_num(float(value))}{_unit(unit)}"
                out.append(
                    f'<circle cx="{_n(chart.x(i))}" cy="{_n(chart.y(float(value)))}" r="3" '
                    f'fill="{colour}"><title>{_text(tip)}</title></circle>'
                )
    summary = "; ".join(
        f"{name}: "
        + ", ".join(
            f"{categories[i]} {'-' if v is None else _num(float(v))}" for i, v in enumerate(values)
        )
        for name, values in series.items()
    )
    return chart.svg("\n".join(out), summary, kind="line")


class _Frame:
    """The parts both charts share: scale, axes, labels, legend, the <svg> around them."""

    def __init__(
        self, categories: list[str], names: list[str], top: float, title: str, unit: str
    ) -> None:
        self.categories, self.names, self.title, self.unit = categories, names, title, unit
        self.top, self.step = _scale(top)
        self.slot = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
        widest = max((len(c) for c in categories), default=0) * CHAR_WIDTH
        self.rotate = widest > self.slot - 4
        label_height = 18 + (widest * 0.64 if self.rotate else 0)  # sin 40° of the length
        self.legend = self._legend_rows()
        legend_height = 20 * len(self.legend)
        self.height = HEIGHT + label_height + legend_height
        self.bottom = self.height - label_height - legend_height - 12  # the x axis's y

    def x(self, index: int) -> float:
        return LEFT + self.slot * (index + 0.5)

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - TOP) * value / self.top

    def _legend_rows(self) -> list[list[tuple[int, str, float]]]:
        """The legend's entries (series index, name, x), wrapped to the chart's width."""
        rows: list[list[tuple[int, str, float]]] = [[]]
        x = float(LEFT)
        for n, name in enumerate(self.names):
            width = 22 + len(name) * CHAR_WIDTH + 16
            if rows[-1] and x + width > WIDTH - RIGHT:
                rows.append([])
                x = float(LEFT)
            rows[-1].append((n, name, x))
            x += width
        return rows if rows[0] else []

    def svg(self, body: str, summary: str, *, kind: str) -> str:
        height = math.ceil(self.height)
        ident = (
            "c"
            + hashlib.sha1(  # noqa: S324 (an id, not a secret)
                f"{self.title}\0{body}".encode("utf-8", "surrogatepass")
            ).hexdigest()[:10]
        )
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img" '
            f'aria-labelledby="{ident}-t {ident}-d" {FONT}>',
            f'<title id="{ident}-t">{_text(self.title)}</title>',
            f'<desc id="{ident}-d">{_text(summary)}</desc>',
            f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>',
            f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold" fill="#111">'
            f"{_text(self.title)}</text>",
        ]
        parts += self._axes()
        parts.append(body)
        parts += self._legend(kind)
        parts.append("</svg>")
        return "\n".join(parts) + "\n"

    def _axes(self) -> list[str]:
        out = []
        ticks = round(self.top / self.step)
        for k in range(ticks + 1):
            value = self.step * k
            y = _n(self.y(value))
            if k:
                out.append(
                    f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#e5e5e5"/>'
                )
            out.append(
                f'<text x="{LEFT - 6}" y="{y}" dy="4" text-anchor="end" fill="#333">'
                f"{_num(value)}</text>"
            )
        bottom = _n(self.bottom)
        out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>')
        out.append(
            f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#333"/>'
        )
        if self.unit:
            middle = _n((TOP + self.bottom) / 2)
            out.append(
                f'<text x="16" y="{middle}" text-anchor="middle" fill="#333" '
                f'transform="rotate(-90 16 {middle})">{_text(self.unit)}</text>'
            )
        for i, category in enumerate(self.categories):
            x, y = _n(self.x(i)), _n(self.bottom + 16)
            turn = f' transform="rotate(-40 {x} {y})"' if self.rotate else ""
            anchor = "end" if self.rotate else "middle"
            out.append(
                f'<text x="{x}" y="{y}" text-anchor="{anchor}" fill="#333"{turn}>'
                f"{_text(category)}</text>"
            )
        if not self.categories:
            out.append(
                f'<text x="{_n((LEFT + WIDTH - RIGHT) / 2)}" y="{_n((TOP + self.bottom) / 2)}" '
                f'text-anchor="middle" fill="#666">no data</text>'
            )
        return out

    def _legend(self, kind: str) -> list[str]:
        out = []
        for row, entries in enumerate(self.legend):
            y = self.height - 20 * (len(self.legend) - row) + 4
            for n, name, x in entries:
                colour = _colour(n)
                if kind == "line":
                    dash = DASHES[n % len(DASHES)]
                    out.append(
                        f'<line x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x + 16)}" y2="{_n(y)}" '
                        f'stroke="{colour}" stroke-width="2"{dash}/>'
                    )
                else:
                    out.append(
                        f'<rect x="{_n(x)}" y="{_n(y - 6)}" width="12" height="12" '
                        f'fill="{colour}"/>'
                    )
                out.append(
                    f'<text x="{_n(x + 22)}" y="{_n(y)}" dy="4" fill="#333">{_text(name)}</text>'
                )
        return out


def _check(
    categories: list[str],
    series: dict[str, list[float]] | dict[str, list[float | None]],
    *,
    allow_none: bool,
) -> None:
    """Refuse what cannot be drawn truthfully, naming the series (ValueError)."""
    for name, values in series.items():
        if len(values) != len(categories):
            raise ValueError(
                f"series {name!r} has {len(values)} values for {len(categories)} categories"
            )
        for value in values:
            if value is None and allow_none:
                continue
            if value is None or not math.isfinite(value) or value < 0:
                raise ValueError(f"series {name!r} holds {value!r}; values are numbers >= 0")


def _scale(top: float) -> tuple[float, float]:
    """(axis end, tick step): a round step (1, 2, 2.5 or 5 times a power of ten) that
    covers `top` in at most 5 ticks."""
    if top <= 0:
        return 1.0, 1.0
    raw = top / 5
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power * 5 >= top)
    if top <= 5 and float(top).is_integer():  # small counts: whole-number ticks
        step = 1.0
    return step * math.ceil(top / step - 1e-9), step


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def _n(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros (stable across platforms)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _num(value: float) -> str:
    """A value as a label: whole numbers without decimals, others with at most two."""
    return str(int(value)) if float(value).is_integer() else _n(value)


def _text(text: str) -> str:
    """Text for an SVG element or attribute: control characters made visible (they are
    not allowed in XML), then &, <, >, and quotes escaped."""
    return escape(safe(text), quote=True)
