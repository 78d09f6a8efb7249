"""Native Excel charts (xlsxwriter) that point at tables already written in the workbook,
and their placement so that each prints whole."""

from __future__ import annotations

from typing import Any

from xlsxwriter.chart import Chart

from exposure.report.excel import WrittenSheet

CHART_WIDTH_CM = 22.0  # fits a landscape A4 or Letter page at 100 %
CHART_HEIGHT_CM = 7.5
PIXELS_PER_CM = 96 / 2.54  # xlsxwriter sizes charts in pixels at 96 dpi
# Rows a chart takes, at the default 15 pt (20 px, 0.53 cm) row, with a blank row after it.
CHART_ROWS = 16
# Two charts a page: 32 rows = 17 cm, inside the 18 cm a landscape page prints at 100 %
# within the margins of `exposure.report.excel.set_up_page`; a page scaled down to fit its
# width only holds more, so no chart is ever cut by a page break.
CHARTS_PER_PAGE = 2


def _column_range(sheet: WrittenSheet, column: int, first_row: int, last_row: int) -> list[Any]:
    """[sheet, first row, column, last row, column], 0-based, as xlsxwriter takes ranges."""
    return [sheet.worksheet.name, first_row - 1, column - 1, last_row - 1, column - 1]


def _header_cell(sheet: WrittenSheet, column: int, header_row: int) -> list[Any]:
    return [sheet.worksheet.name, header_row - 1, column - 1]


def _sized(chart: Chart, title: str) -> None:
    chart.set_title({"name": title})
    chart.set_size(
        {
            "width": round(CHART_WIDTH_CM * PIXELS_PER_CM),
            "height": round(CHART_HEIGHT_CM * PIXELS_PER_CM),
        }
    )


def bar_chart(
    data_sheet: WrittenSheet,
    category_column: int,
    value_columns: list[int],
    header_row: int,
    last_row: int,
    title: str,
    y_title: str,
    *,
    number_format: str | None = None,
    stacked: bool = False,
    axis_range: tuple[float, float] | None = None,
) -> Chart:
    """A bar chart of `value_columns` (with their headers as series names) by category.

    Columns and rows count from 1, as in the sheet a planner sees.
    """
    chart = data_sheet.book.add_chart(
        {"type": "bar", **({"subtype": "stacked"} if stacked else {})}
    )
    _sized(chart, title)
    categories = _column_range(data_sheet, category_column, header_row + 1, last_row)
    for column in value_columns:
        series: dict[str, Any] = {
            "name": _header_cell(data_sheet, column, header_row),
            "categories": categories,
            "values": _column_range(data_sheet, column, header_row + 1, last_row),
        }
        if stacked:
            series["overlap"] = 100
        chart.add_series(series)
    # In an xlsxwriter bar chart the value axis is the x axis: it runs across the page.
    value_axis: dict[str, Any] = {"name": y_title}
    if number_format:
        value_axis["num_format"] = number_format
    if axis_range is not None:
        value_axis["min"], value_axis["max"] = axis_range
    chart.set_x_axis(value_axis)
    if len(value_columns) == 1:
        chart.set_legend({"none": True})  # one series: the title says what it is
    return chart


def line_chart(
    data_sheet: WrittenSheet,
    x_column: int,
    value_columns: list[int],
    header_row: int,
    last_row: int,
    title: str,
    y_title: str,
    x_title: str,
    *,
    y_number_format: str | None = None,
    x_number_format: str | None = None,
) -> Chart:
    """A line chart, one line per value column, against the values of `x_column`."""
    chart = data_sheet.book.add_chart({"type": "line"})
    _sized(chart, title)
    categories = _column_range(data_sheet, x_column, header_row + 1, last_row)
    for column in value_columns:
        chart.add_series(
            {
                "name": _header_cell(data_sheet, column, header_row),
                "categories": categories,
                "values": _column_range(data_sheet, column, header_row + 1, last_row),
            }
        )
    y_axis: dict[str, Any] = {"name": y_title}
    if y_number_format:
        y_axis["num_format"] = y_number_format
    x_axis: dict[str, Any] = {"name": x_title}
    if x_number_format:
        x_axis["num_format"] = x_number_format
    chart.set_y_axis(y_axis)
    chart.set_x_axis(x_axis)
    return chart


def place_charts_on_pages(target: WrittenSheet, charts: list[Chart], first_row: int) -> None:
    """Stack `charts` in column A from `first_row`, starting a new printed page there and
    after every CHARTS_PER_PAGE charts, so that no page break cuts a chart."""
    if not charts:
        return
    breaks = []
    row = first_row
    for number, chart in enumerate(charts):
        if number % CHARTS_PER_PAGE == 0:
            breaks.append(row - 1)  # a page break above `row` (the break is after row - 1)
        target.worksheet.insert_chart(row - 1, 0, chart)
        row += CHART_ROWS
    target.worksheet.set_h_pagebreaks(breaks)
