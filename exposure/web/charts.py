"""Bar charts as inline SVG, drawn on the server: no JavaScript library, no CDN."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from exposure.summary import usd

WIDTH = 680
LABEL = 150
VALUE = 110
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


def _svg(height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _label(y: float, text: str) -> str:
    short = text if len(text) <= 20 else text[:19] + "…"
    return (
        f'<text x="{LABEL - 6}" y="{y + BAR * 0.72:.1f}" text-anchor="end" '
        f'font-size="12">{escape(short)}</text>'
    )


def bar_chart(
    title: str,
    rows: list[tuple[str, float]],
    *,
    maximum: float | None = None,
    fmt: Callable[[float], str] = str,
    color: str = PALETTE[0],
) -> str:
    """One horizontal bar per (label, value), scaled to `maximum` (default: the largest)."""
    if not rows:
        return f'<p class="muted">{escape(title)}: nothing to show.</p>'
    top = maximum if maximum is not None else max(v for _, v in rows)
    top = top if top > 0 else 1.0
    span = WIDTH - LABEL - VALUE
    height = TOP * 2 + ROW * len(rows)
    body = []
    for i, (label, value) in enumerate(rows):
        y = TOP + i * ROW
        width = max(0.0, min(1.0, value / top)) * span
        body.append(_label(y, label))
        body.append(
            f'<rect x="{LABEL}" y="{y}" width="{span}" height="{BAR}" fill="#eef1f4"/>'
            f'<rect x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR}" fill="{color}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
            f'<text x="{LABEL + span + 6}" y="{y + BAR * 0.72:.1f}" font-size="12">'
            f"{escape(fmt(value))}</text>"
        )
    return _svg(height, title, body)


def stacked_chart(
    title: str, rows: list[tuple[str, list[tuple[str, float]]]], unit: str = "t"
) -> str:
    """One horizontal bar per label, split into coloured segments, with a legend."""
    if not rows:
        return f'<p class="muted">{escape(title)}: nothing to show.</p>'
    series = sorted({name for _, parts in rows for name, _ in parts})
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    top = max(sum(v for _, v in parts) for _, parts in rows) or 1.0
    span = WIDTH - LABEL - VALUE
    legend_rows = (len(series) + 4) // 5
    height = TOP * 2 + ROW * len(rows) + 20 * legend_rows + 6
    body = []
    for i, (label, parts) in enumerate(rows):
        y = TOP + i * ROW
        x = float(LABEL)
        body.append(_label(y, label))
        for name, value in parts:
            width = value / top * span
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" '
                f'fill="{colors[name]}"><title>{escape(label)}, {escape(name)}: '
                f"{value:,.1f} {unit}</title></rect>"
            )
            x += width
        total = sum(v for _, v in parts)
        body.append(
            f'<text x="{LABEL + span + 6}" y="{y + BAR * 0.72:.1f}" font-size="12">'
            f"{total:,.1f} {unit}</text>"
        )
    legend_top = TOP + ROW * len(rows) + 10
    for i, name in enumerate(series):
        x = LABEL + (i % 5) * 100
        y = legend_top + (i // 5) * 20
        body.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colors[name]}"/>'
            f'<text x="{x + 16}" y="{y + 10}" font-size="11">{escape(name[:14])}</text>'
        )
    return _svg(height, title, body)


def result_charts(charts: dict[str, list[dict[str, object]]]) -> list[tuple[str, str]]:
    """(heading, svg) for service level by sector, lost value by sector, supply by origin."""
    sectors = charts.get("sectors", [])
    service = [(str(s["sector"]), float(s["value_service_level"])) for s in sectors]  # type: ignore[arg-type]
    lost = [(str(s["sector"]), float(s["lost_value"])) for s in sectors]  # type: ignore[arg-type]
    lost.sort(key=lambda r: -r[1])
    by_country: dict[str, list[tuple[str, float]]] = {}
    for record in charts.get("origins", []):
        by_country.setdefault(str(record["country"]), []).append(
            (str(record["material"]), float(record["tonnes"]))  # type: ignore[arg-type]
        )
    origins = sorted(by_country.items(), key=lambda item: -sum(v for _, v in item[1]))
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
        (
            "Supply by origin",
            stacked_chart("Tonnes bought by country of origin, by material", origins),
        ),
    ]
