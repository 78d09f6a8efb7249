"""Native Excel charts (openpyxl) that point at tables already written in the workbook."""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.worksheet.worksheet import Worksheet


def bar_chart(
    target: Worksheet,
    anchor: str,
    data_sheet: Worksheet,
    category_column: int,
    value_columns: list[int],
    header_row: int,
    last_row: int,
    title: str,
    y_title: str,
    *,
    number_format: str | None = None,
    stacked: bool = False,
) -> BarChart:
    """A bar chart of `value_columns` (with their headers as series names) by category."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = title
    chart.y_axis.title = y_title
    chart.height, chart.width = 8, 16
    if stacked:
        chart.grouping = "stacked"
        chart.overlap = 100
    for column in value_columns:
        values = Reference(data_sheet, min_col=column, min_row=header_row, max_row=last_row)
        chart.add_data(values, titles_from_data=True)
    categories = Reference(
        data_sheet, min_col=category_column, min_row=header_row + 1, max_row=last_row
    )
    chart.set_categories(categories)
    if number_format:
        chart.y_axis.numFmt = number_format
    target.add_chart(chart, anchor)
    return chart


def line_chart(
    target: Worksheet,
    anchor: str,
    data_sheet: Worksheet,
    x_column: int,
    value_columns: list[int],
    header_row: int,
    last_row: int,
    title: str,
    y_title: str,
    x_title: str,
) -> LineChart:
    """A line chart, one line per value column, against the values of `x_column`."""
    chart = LineChart()
    chart.title = title
    chart.y_axis.title = y_title
    chart.x_axis.title = x_title
    chart.height, chart.width = 9, 18
    for column in value_columns:
        values = Reference(data_sheet, min_col=column, min_row=header_row, max_row=last_row)
        chart.add_data(values, titles_from_data=True)
    chart.set_categories(
        Reference(data_sheet, min_col=x_column, min_row=header_row + 1, max_row=last_row)
    )
    target.add_chart(chart, anchor)
    return chart
