"""Native Excel charts (openpyxl) that point at tables already written in the workbook,
and their placement so that each prints whole."""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart._chart import ChartBase
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

CHART_WIDTH_CM = 22.0  # fits a landscape A4 or Letter page at 100 %
CHART_HEIGHT_CM = 7.5
# Rows a chart takes, at the default 15 pt (0.53 cm) row, with a blank row after it.
CHART_ROWS = 16
# Two charts a page: 32 rows = 17 cm, inside the 18 cm a landscape page prints at 100 %
# within the margins of `exposure.report.excel.set_up_page`; a page scaled down to fit its
# width only holds more, so no chart is ever cut by a page break.
CHARTS_PER_PAGE = 2


def _show_axes(chart: ChartBase) -> None:
    # openpyxl 3.1 writes axes as deleted unless told otherwise: no labels, no scale.
    chart.x_axis.delete = False
    chart.y_axis.delete = False


def bar_chart(
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
    axis_range: tuple[float, float] | None = None,
) -> BarChart:
    """A bar chart of `value_columns` (with their headers as series names) by category."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = title
    chart.y_axis.title = y_title
    chart.height, chart.width = CHART_HEIGHT_CM, CHART_WIDTH_CM
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
        chart.y_axis.number_format = number_format
    if axis_range is not None:
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = axis_range
    if len(value_columns) == 1:
        chart.legend = None  # one series: the title says what it is
    _show_axes(chart)
    return chart


def line_chart(
    data_sheet: Worksheet,
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
) -> LineChart:
    """A line chart, one line per value column, against the values of `x_column`."""
    chart = LineChart()
    chart.title = title
    chart.y_axis.title = y_title
    chart.x_axis.title = x_title
    chart.height, chart.width = CHART_HEIGHT_CM, CHART_WIDTH_CM
    for column in value_columns:
        values = Reference(data_sheet, min_col=column, min_row=header_row, max_row=last_row)
        chart.add_data(values, titles_from_data=True)
    chart.set_categories(
        Reference(data_sheet, min_col=x_column, min_row=header_row + 1, max_row=last_row)
    )
    if y_number_format:
        chart.y_axis.number_format = y_number_format
    if x_number_format:
        chart.x_axis.number_format = x_number_format
    _show_axes(chart)
    return chart


def place_charts_on_pages(target: Worksheet, charts: list[ChartBase], first_row: int) -> None:
    """Stack `charts` in column A from `first_row`, starting a new printed page there and
    after every CHARTS_PER_PAGE charts, so that no page break cuts a chart."""
    if not charts:
        return
    row = first_row
    target.row_breaks.append(Break(id=row - 1))
    for number, chart in enumerate(charts):
        if number and number % CHARTS_PER_PAGE == 0:
            target.row_breaks.append(Break(id=row - 1))
        target.add_chart(chart, f"A{row}")
        row += CHART_ROWS
