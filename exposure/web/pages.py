"""Server-rendered HTML of the upload page. Every value from a workbook is escaped."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from exposure.summary import usd
from exposure.web.charts import result_charts
from exposure.web.settings import Settings

OBJECTIVES = {
    "priority": (
        "Priority (lose the least value)",
        "Supply goes where it saves the most value; low-value products are cut first.",
    ),
    "fair": (
        "Fair (share shortfalls)",
        "Every sector bears a pro-rata share of the shortfall (weighted by sector weight), "
        "then the least value is lost.",
    ),
}


@dataclass(frozen=True)
class FormChoice:
    """What a planner chose on the upload form, to show it again after a refusal."""

    objective: str = "priority"
    scenarios: bool = False
    filename: str = ""


def layout(title: str, body: str, head: str = "") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Rare-earth exposure</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
{head}
</head>
<body>
<header><a href="/">Rare-earth exposure calculator</a></header>
<main>
{body}
</main>
<script src="/static/app.js"></script>
</body>
</html>
"""


def _minutes(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} seconds"


def home(
    settings: Settings,
    *,
    error: tuple[str, str] | None = None,
    chosen: FormChoice | None = None,
    signed_in: bool = False,
) -> str:
    """The upload form; after a refused upload, with the refusal and the options chosen."""
    chosen = chosen or FormChoice()
    objective = chosen.objective if chosen.objective in OBJECTIVES else "priority"
    choices = "".join(
        f'<label><input type="radio" name="objective" value="{key}"'
        f"{' checked' if key == objective else ''}> <strong>{escape(name)}</strong>"
        f' <span class="muted">{escape(text)}</span></label>'
        for key, (name, text) in OBJECTIVES.items()
    )
    limit_mb = settings.max_upload_bytes / 1024**2
    refusal = ""
    title = "Upload"
    if error is not None:
        title = error[0]
        again = (
            f"You had chosen <strong>{escape(chosen.filename)}</strong>. "
            if chosen.filename
            else ""
        )
        refusal = (
            f'<div class="alert" id="refusal" role="alert"><strong>{escape(error[0])}</strong>'
            f"<br>{escape(error[1])}</div>"
            f'<p class="notice" id="choose-again">{again}Your options below are kept, but a '
            "browser cannot keep a chosen file after an error: <strong>choose the workbook "
            "again</strong>, then press Run.</p>"
        )
    scenarios_checked = " checked" if chosen.scenarios else ""
    sign_out = (
        '<form action="/logout" method="post" class="sign-out"><button type="submit" '
        'class="secondary">Sign out</button></form>'
        if signed_in
        else ""
    )
    body = f"""
<h1>Run a workbook</h1>
{refusal}
<div class="card">
<form id="upload" action="/jobs" method="post" enctype="multipart/form-data"
  data-max-bytes="{settings.max_upload_bytes}">
  <div class="drop" id="drop">
    <strong>Drop your input workbook (.xlsx) here</strong>, or choose it:<br>
    <input type="file" id="workbook" name="workbook"
      accept=".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet">
    <div id="chosen" class="muted"></div>
  </div>
  <p id="client-warning" class="muted" role="alert"></p>
  <fieldset>
    <legend>Objective</legend>
    {choices}
  </fieldset>
  <fieldset>
    <legend>What-if</legend>
    <label><input type="checkbox" name="scenarios" value="1"{scenarios_checked}>
      Also run the workbook's scenarios (Scenarios sheet) and give a comparison workbook</label>
  </fieldset>
  <button type="submit" id="run">Run</button>
</form>
</div>
<div class="card">
  <p>New here? <a class="button secondary" href="/template.xlsx" download>Download the blank
  template</a></p>
  <p class="muted">The template has one sheet per table, with notes on every column and
  drop-downs. Fill it in, save it as .xlsx and upload it above.</p>
  <p class="muted">Limits: workbooks up to {limit_mb:g} MB; each run may take up to
  {_minutes(settings.job_time_limit)}; {settings.max_jobs} run(s) at once and up to
  {settings.queue_size} wait their turn; results are kept for
  {_minutes(settings.expiry_seconds)} after a run, then deleted from the server.</p>
</div>
{sign_out}
"""
    return layout(title, body)


def message_page(title: str, message: str, *, back: bool = True) -> str:
    link = '<p><a class="button" href="/">Back to the upload page</a></p>' if back else ""
    body = f'<h1>{escape(title)}</h1><div class="alert">{escape(message)}</div>{link}'
    return layout(title, body)


def login_page(wrong: bool = False) -> str:
    note = '<div class="alert">That token is not right.</div>' if wrong else ""
    body = f"""
<h1>Sign in</h1>
{note}
<div class="card">
<p>This server is shared: enter the access token you were given.</p>
<form action="/login" method="post">
  <label>Access token <input type="password" name="token" autocomplete="current-password"
    required></label>
  <p><button type="submit">Sign in</button></p>
</form>
<p class="muted">Scripts send it as <code>Authorization: Bearer &lt;token&gt;</code>.</p>
</div>
"""
    return layout("Sign in", body)


def job_page(
    job_id: str, state: dict[str, Any], settings: Settings, position: int | None = None
) -> str:
    """The job's page; `position` is its place in the queue (1: next), None if not waiting."""
    status = state.get("status", "queued")
    if status == "done":
        return _done(job_id, state, settings)
    if status == "invalid":
        return _invalid(job_id, state, settings)
    if status == "failed":
        return _failed(state)
    return _running(job_id, state, settings, position)


def _header(state: dict[str, Any]) -> str:
    objective = OBJECTIVES.get(str(state.get("objective")), ("", ""))[0]
    return (
        f'<p class="muted">Workbook <strong>{escape(str(state.get("filename", "")))}</strong>'
        f" · objective {escape(objective)}</p>"
    )


def queue_words(position: int | None) -> str:
    if position is None:
        return ""
    if position == 1:
        return "Waiting in the queue: yours is the next job to start."
    return f"Waiting in the queue: position {position} ({position - 1} job(s) ahead of yours)."


def _running(job_id: str, state: dict[str, Any], settings: Settings, position: int | None) -> str:
    now = settings.now()
    started = float(state.get("started") or state.get("created") or now)
    elapsed = max(0.0, now - started)
    heading = "Waiting…" if position is not None else "Running…"
    hidden = "" if position is not None else " hidden"  # the script shows it if needed
    body = f"""
<h1>{heading}</h1>
{_header(state)}
<div class="card" data-job-status="{escape(str(state.get("status")))}"
  data-status-url="/jobs/{job_id}/status">
  <p id="queue" class="notice"{hidden}>{escape(queue_words(position))}</p>
  <p>Now: <strong id="stage">{escape(str(state.get("stage", "starting")))}</strong>
  (<span id="elapsed">{elapsed:.0f} s</span>)</p>
  <div class="progress"><span></span></div>
  <p class="muted">This page updates by itself; you may reload it or come back to this
  address later.</p>
</div>
"""
    head = '<noscript><meta http-equiv="refresh" content="3"></noscript>'
    return layout("Running", body, head)


def _failed(state: dict[str, Any]) -> str:
    message = str(state.get("message") or "The calculation did not finish.")
    body = f"""
<h1>The calculation did not finish</h1>
{_header(state)}
<div class="alert" id="failure">{escape(message)}</div>
<p><a class="button" href="/">Upload a workbook</a></p>
"""
    return layout("Did not finish", body)


def _issue_table(issues: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr class="{escape(i["severity"])}"><td class="severity">{escape(i["severity"])}</td>'
        f"<td>{escape(i['sheet'] or '(workbook)')}</td><td>{escape(i['cell'])}</td>"
        f"<td>{escape(i['message'])}</td><td>{escape(i['hint'])}</td></tr>"
        for i in issues
    )
    return (
        '<table id="issues"><thead><tr><th></th><th>Sheet</th><th>Cell</th><th>Problem</th>'
        f"<th>How to fix it</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _expires(state: dict[str, Any], settings: Settings) -> str:
    now = settings.now()
    finished = float(state.get("finished") or now)
    left = max(0.0, finished + settings.expiry_seconds - now)
    return (
        f'<p class="muted">These files are deleted from the server in about '
        f"{_minutes(round(left / 60) * 60 if left >= 120 else round(left))}.</p>"
    )


def _invalid(job_id: str, state: dict[str, Any], settings: Settings) -> str:
    issues = state.get("issues") or []
    errors = sum(1 for i in issues if i["severity"] == "error")
    warnings = len(issues) - errors
    also = f" and {warnings} warning(s)" if warnings else ""
    annotated = (
        f'<p><a class="button" id="annotated" href="/jobs/{job_id}/annotated.xlsx">Download your '
        "workbook with the problems marked</a></p>"
        '<p class="muted">In that copy each bad cell is highlighted and carries a comment saying '
        "what is wrong, and an Errors sheet lists every problem. Nothing else in your workbook "
        "is changed.</p>"
        if state.get("annotated")
        else ""
    )
    body = f"""
<h1>The workbook needs fixing</h1>
{_header(state)}
<div class="alert">{errors} problem(s) to fix{also};
nothing was solved. Fix them all in one pass and upload again.</div>
{annotated}
{_issue_table(issues)}
<p><a class="button secondary" href="/">Upload a corrected workbook</a></p>
{_expires(state, settings)}
"""
    return layout("Workbook needs fixing", body)


def _kpi(name: str, value: str, kpi_id: str) -> str:
    return (
        f'<div class="kpi" id="kpi-{kpi_id}"><div class="value">{escape(value)}</div>'
        f'<div class="name">{escape(name)}</div></div>'
    )


def _done(job_id: str, state: dict[str, Any], settings: Settings) -> str:
    kpis = state.get("kpis") or {}
    cards = [
        _kpi("value lost", usd(kpis.get("lost_value", 0.0)), "lost-value"),
        _kpi("value demanded", usd(kpis.get("demand_value", 0.0)), "demand-value"),
        _kpi(
            "value service level (value built)",
            f"{kpis.get('value_service_level', 0.0):.1%}",
            "service",
        ),
        _kpi("purchase cost", usd(kpis.get("purchase_cost", 0.0)), "purchase-cost"),
        _kpi("objective (without penalty)", usd(kpis.get("objective_value", 0.0)), "objective"),
        _kpi(
            "soft constraints violated",
            f"{int(kpis.get('soft_constraints_violated', 0))}",
            "soft",
        ),
    ]
    sentences = "".join(f"<li>{escape(s)}</li>" for s in state.get("sentences") or [])
    charts = "".join(
        f"<h2>{escape(heading)}</h2>{svg}" for heading, svg in result_charts(state["charts"])
    )
    warnings = state.get("warnings") or []
    warning_block = (
        f"<details><summary>{len(warnings)} warning(s) about the workbook</summary>"
        f"{_issue_table(warnings)}</details>"
        if warnings
        else ""
    )
    body = f"""
<h1>Results</h1>
{_header(state)}
<p><a class="button" id="results" href="/jobs/{job_id}/results.xlsx">Download the results
workbook</a></p>
<div class="kpis">{"".join(cards)}</div>
<h2>Largest exposures and the most valuable lever</h2>
<ul class="sentences" id="sentences">{sentences or "<li>Nothing is lost.</li>"}</ul>
{charts}
{_whatif(job_id, state.get("whatif"))}
{warning_block}
<p><a class="button secondary" href="/">Run another workbook</a></p>
{_expires(state, settings)}
"""
    return layout("Results", body)


def _whatif(job_id: str, whatif: dict[str, Any] | None) -> str:
    if not whatif:
        return ""
    if not whatif.get("file"):
        return f'<h2>Scenarios</h2><div class="notice">{escape(str(whatif.get("note")))}</div>'
    rows = "".join(
        f"<tr><td>{escape(r['scenario'])}</td><td>{escape(r['status'])}</td>"
        f"<td>{_maybe(r['lost_value'], usd)}</td>"
        f"<td>{_maybe(r['value_service_level'], lambda v: f'{v:.1%}')}</td></tr>"
        for r in whatif.get("rows", [])
    )
    return f"""
<h2>Scenarios</h2>
<p><a class="button" id="whatif" href="/jobs/{job_id}/whatif.xlsx">Download the scenario
comparison workbook</a></p>
<table id="scenarios"><thead><tr><th>Scenario</th><th>Status</th><th>Value lost</th>
<th>Value service level</th></tr></thead><tbody>{rows}</tbody></table>
"""


def _maybe(value: float | None, fmt: Any) -> str:
    return "" if value is None else escape(fmt(value))
