"""Bar charts as inline SVG, drawn on the server: no JavaScript library, no CDN.

Every chart has a viewBox and width 100% (no fixed pixel size), so it scales to
the page: a phone shows the whole chart, smaller, instead of a slice of it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from html import escape

from exposure.summary import usd

# Sizes are the drawing's own units; the page scales each chart to the width available.
# They are kept small so that on a phone (about 330 px for a chart) the 12-unit text
# stays readable: a wide drawing shrunk to a phone's width makes its text unreadable.
WIDTH = 440
LABEL = 130
VALUE = 90
SMALL_WIDTH = 320  # one panel of the small multiples: several side by side on a wide page
SMALL_LABEL = 90
SMALL_VALUE = 100
ROW = 26
BAR = 18
TOP = 8
PALETTE = (
    "#1f6f8b",
    "#e07a1f",
    "#5a9e4b",
    "#b5423c",
    "#7d5ba6",
    "#8c6d3f",
    "#d16ba5",
    "#6b6b6b",
    "#a4a83a",
    "#2aa5b8",
)


def _svg(height: int, title: str, body: list[str], width: int = WIDTH) -> str:
    # width="100%" and no height: the browser keeps the viewBox's aspect ratio.
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _label(y: float, text: str, label_width: int) -> str:
    fits = max(4, label_width // 7)  # characters of 12-unit text that fit the label column
    short = text if len(text) <= fits else text[: fits - 1] + "…"
    return (
        f'<text x="{label_width - 6}" y="{y + BAR * 0.72:.1f}" text-anchor="end" '
        f'font-size="12"><title>{escape(text)}</title>{escape(short)}</text>'
    )


def bar_chart(
    title: str,
    rows: list[tuple[str, float]],
    *,
    maximum: float | None = None,
    fmt: Callable[[float], str] = str,
    color: str = PALETTE[0],
    width: int = WIDTH,
    label_width: int = LABEL,
    value_width: int = VALUE,
) -> str:
    """One horizontal bar per (label, value), scaled to `maximum` (default: the largest)."""
    if not rows:
        return f'<p class="muted">{escape(title)}: nothing to show.</p>'
    top = maximum if maximum is not None else max(v for _, v in rows)
    top = top if top > 0 else 1.0
    span = width - label_width - value_width
    height = TOP * 2 + ROW * len(rows)
    body = []
    for i, (label, value) in enumerate(rows):
        y = TOP + i * ROW
        length = max(0.0, min(1.0, value / top)) * span
        body.append(_label(y, label, label_width))
        body.append(
            f'<rect x="{label_width}" y="{y}" width="{span}" height="{BAR}" fill="#eef1f4"/>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{BAR}" '
            f'fill="{color}"><title>{escape(label)}: {escape(fmt(value))}</title></rect>'
            f'<text x="{label_width + span + 6}" y="{y + BAR * 0.72:.1f}" font-size="12">'
            f"{escape(fmt(value))}</text>"
        )
    return _svg(height, title, body, width)


def origin_charts(origins: list[dict[str, object]]) -> str:
    """Supply by origin as small multiples: one panel per material, each on its own scale.

    Tonnes of different materials are not added up (a tonne of magnet next to a
    tonne of dysprosium oxide would hide the dysprosium): each panel shows where
    one material comes from, with each country's share of that material.
    """
    by_material: dict[str, dict[str, float]] = {}
    for record in origins:
        countries = by_material.setdefault(str(record["material"]), {})
        country = str(record["country"])
        countries[country] = countries.get(country, 0.0) + float(record["tonnes"])  # type: ignore[arg-type]
    if not by_material:
        return '<p class="muted">Supply by origin: nothing bought.</p>'
    panels: list[str] = []
    for material in sorted(by_material):
        countries = by_material[material]
        total = sum(countries.values()) or 1.0
        rows = sorted(countries.items(), key=lambda item: -item[1])
        color = PALETTE[len(panels) % len(PALETTE)]
        chart = bar_chart(
            f"{material}: tonnes bought by country of origin",
            rows,
            fmt=partial(_tonnes_and_share, total=total),
            color=color,
            width=SMALL_WIDTH,
            label_width=SMALL_LABEL,
            value_width=SMALL_VALUE,
        )
        panels.append(
            f'<figure class="origin" data-material="{escape(material)}">'
            f"<h3>{escape(material)}</h3>{chart}</figure>"
        )
    return f'<div class="small-multiples" id="origins">{"".join(panels)}</div>'


def _tonnes_and_share(value: float, total: float) -> str:
    return f"{value:,.1f} t · {value / total:.0%}"


def result_charts(charts: dict[str, list[dict[str, object]]]) -> list[tuple[str, str]]:
    """(heading, svg) for service level by sector, lost value by sector, supply by origin."""
    sectors = charts.get("sectors", [])
    service = [(str(s["sector"]), float(s["value_service_level"])) for s in sectors]  # type: ignore[arg-type]
    lost = [(str(s["sector"]), float(s["lost_value"])) for s in sectors]  # type: ignore[arg-type]
    lost.sort(key=lambda r: -r[1])
    return [
        (
            "Value service level by sector",
            bar_chart(
                "Value service level by sector (share of demanded value built)",
                service,
                maximum=1.0,
                fmt=lambda v: f"{v:.1%}",
            ),
        ),
        (
            "Lost value by sector",
            bar_chart("Lost value by sector (USD)", lost, fmt=usd, color=PALETTE[3]),
        ),
        ("Supply by origin, per material", origin_charts(charts.get("origins", []))),
    ]
