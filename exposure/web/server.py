"""The upload page (`exposure serve`): a small Starlette application served by uvicorn.

Pages are rendered on the server; the stylesheet, the small script and the
charts (inline SVG) come from the app itself, so it works on a closed network.

Routes:
  GET  /                       upload form (file picker, drag and drop, objective, scenarios)
  GET  /template.xlsx          the blank input template
  POST /jobs                   upload (multipart form, or the raw .xlsx as the body) -> job
  GET  /jobs/{id}              progress, then the problems or the results (survives reload)
  GET  /jobs/{id}/status       the job's state as JSON (polled by the page)
  GET  /jobs/{id}/results.xlsx | annotated.xlsx | whatif.xlsx   downloads
  GET  /healthz                liveness and how many jobs run
  GET|POST /login              token sign-in for browsers when a token is required
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exposure.errors import InputError
from exposure.web import pages
from exposure.web.assets import CSS, JS
from exposure.web.jobs import (
    ANNOTATED_FILE,
    FINAL,
    INPUT_FILE,
    RESULTS_FILE,
    WHATIF_FILE,
    JobStore,
)
from exposure.web.settings import Settings
from exposure.web.upload import UploadRejectedError, receive_upload

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COOKIE = "exposure_session"
PUBLIC_PATHS = ("/healthz", "/login", "/static/")
TRUE_WORDS = {"1", "on", "true", "yes"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
DOWNLOADS = {
    "results.xlsx": (RESULTS_FILE, "results"),
    "annotated.xlsx": (ANNOTATED_FILE, "annotated"),
    "whatif.xlsx": (WHATIF_FILE, "whatif"),
}


def session_value(token: str) -> str:
    """What the sign-in cookie holds: derived from the token, not the token itself."""
    return hmac.new(token.encode(), b"exposure-web-session", hashlib.sha256).hexdigest()


def display_name(raw: str) -> str:
    """The client's file name, only for display and download names: never for a path."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:120]
    return name or "workbook.xlsx"


def safe_stem(name: str) -> str:
    stem = re.sub(r"\.xlsx$", "", name, flags=re.IGNORECASE)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:60]
    return stem or "workbook"


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def problem(request: Request, status: int, title: str, message: str, **headers: str) -> Response:
    """An error answer: a plain page for people, JSON for scripts."""
    if wants_json(request):
        return JSONResponse({"error": title, "message": message}, status, headers=headers)
    return HTMLResponse(pages.message_page(title, message), status, headers=headers)


class Guard:
    """ASGI middleware: bearer-token check, security headers, expiry sweep on each request."""

    def __init__(self, app: ASGIApp, settings: Settings, store: JobStore) -> None:
        self.app = app
        self.settings = settings
        self.store = store
        self.session = session_value(settings.token) if settings.token else None

    def authorised(self, scope: Scope) -> bool:
        token = self.settings.token
        if not token or scope["path"].startswith(PUBLIC_PATHS):
            return True
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
        cookies = headers.get(b"cookie", b"").decode("latin-1")
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and self.session and hmac.compare_digest(value, self.session):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        if not self.authorised(scope):
            request = Request(scope)
            headers = {"WWW-Authenticate": 'Bearer realm="exposure"'}
            if wants_json(request):
                response: Response = JSONResponse(
                    {"error": "unauthorised", "message": "a bearer token is required"},
                    401,
                    headers=headers,
                )
            else:
                response = HTMLResponse(pages.login_page(), 401, headers=headers)
            await response(scope, receive, send_with_headers)
            return
        self.store.sweep()
        await self.app(scope, receive, send_with_headers)


# ------------------------------------------------------------------ handlers
async def home(request: Request) -> Response:
    return HTMLResponse(pages.home(request.app.state.settings))


async def stylesheet(_request: Request) -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def script(_request: Request) -> Response:
    return Response(JS, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})


async def health(request: Request) -> Response:
    store: JobStore = request.app.state.store
    return JSONResponse(
        {"ok": True, "running": store.running, "max_jobs": request.app.state.settings.max_jobs}
    )


async def template(request: Request) -> Response:
    target = Path(request.app.state.settings.work_dir) / "template.xlsx"
    if not target.exists():
        from exposure.workbook.template import write_template

        partial = target.with_name(f".template-{time.monotonic_ns()}.xlsx")
        await run_in_threadpool(write_template, partial)
        partial.replace(target)
    return FileResponse(target, media_type=XLSX, filename="exposure-template.xlsx")


def same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (browsers say where a request comes from)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in {"same-origin", "none"}
    origin = request.headers.get("origin")
    if origin is None:  # not a browser: scripts and curl
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def create_job(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    store: JobStore = request.app.state.store
    if not same_origin(request):
        return problem(request, 403, "Refused", "Uploads are accepted only from this page.")
    if not store.reserve():
        return problem(
            request,
            503,
            "Busy, try again in a minute",
            f"The server is already running {settings.max_jobs} calculation(s), as many as "
            "it allows at once. Please try again in a minute; your workbook was not kept.",
            **{"Retry-After": "60"},
        )
    job_id, folder = store.new_folder()
    started = False
    try:
        upload = await receive_upload(request, folder / INPUT_FILE, settings.max_upload_bytes)
        name = display_name(upload.filename)
        try:
            await run_in_threadpool(_check_container, folder / INPUT_FILE)
        except InputError as exc:
            issue = exc.issues[0]
            text = issue.message.replace(INPUT_FILE, name)
            text += f". {issue.hint[:1].upper()}{issue.hint[1:]}." if issue.hint else "."
            if issue.code == "zip-bomb":
                raise UploadRejectedError(413, "Workbook too large", text) from exc
            raise UploadRejectedError(415, "Not an Excel workbook", text) from exc
        objective = upload.fields.get("objective", "priority") or "priority"
        if objective not in pages.OBJECTIVES:
            raise UploadRejectedError(
                400, "Unknown objective", "The objective must be 'priority' or 'fair'."
            )
        scenarios = upload.fields.get("scenarios", "").strip().lower() in TRUE_WORDS
        options = {"objective": objective, "scenarios": scenarios, "filename": name}
        store.start(job_id, folder, options)
        started = True
    except UploadRejectedError as exc:
        return problem(request, exc.status, exc.title, exc.message)
    except ClientDisconnect:  # pragma: no cover - receive_upload converts it
        return PlainTextResponse("upload interrupted", 400)
    finally:
        if not started:
            store.release()
            store.discard(folder)
    location = f"/jobs/{job_id}"
    if wants_json(request):
        return JSONResponse(
            {"id": job_id, "url": location, "status_url": f"{location}/status"},
            202,
            headers={"Location": location},
        )
    return RedirectResponse(location, 303)


def _check_container(path: Path) -> None:
    from exposure.workbook.safe_open import check_container

    check_container(path)


def _missing(request: Request, job_id: str) -> Response:
    store: JobStore = request.app.state.store
    keep = pages._minutes(request.app.state.settings.expiry_seconds)
    if job_id in store.expired:
        return problem(
            request,
            410,
            "These results have expired",
            f"Results are kept for {keep} after a run, then deleted from the server. "
            "Upload the workbook again to get them anew.",
        )
    return problem(
        request,
        404,
        "No such job",
        f"There is no job at this address. Results are kept for {keep} after a run; "
        "upload the workbook again.",
    )


NO_STORE = {"Cache-Control": "no-store"}


async def job_page(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    state = request.app.state.store.state(job_id)
    if state is None:
        return _missing(request, job_id)
    html = pages.job_page(job_id, state, request.app.state.settings)
    return HTMLResponse(html, headers=NO_STORE)


async def job_status(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    state = request.app.state.store.state(job_id)
    if state is None:
        return _missing(request, job_id)
    started = float(state.get("started") or state.get("created") or time.time())
    end = float(state.get("finished") or time.time())
    public = {
        "id": job_id,
        "status": state.get("status"),
        "stage": state.get("stage", ""),
        "elapsed": round(max(0.0, end - started), 1),
    }
    if state.get("status") in FINAL:
        public["message"] = state.get("message", "")
        public["issues"] = state.get("issues", [])
        public["kpis"] = state.get("kpis", {})
        public["sentences"] = state.get("sentences", [])
        public["downloads"] = [
            f"/jobs/{job_id}/{name}"
            for name, (file, _suffix) in DOWNLOADS.items()
            if (request.app.state.store.root / job_id / file).exists()
        ]
    return JSONResponse(public, headers=NO_STORE)


async def download(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    name = request.path_params["name"]
    store: JobStore = request.app.state.store
    folder = store.path(job_id)
    if folder is None:
        return _missing(request, job_id)
    if name not in DOWNLOADS:
        return problem(request, 404, "No such file", "This job has no such download.")
    state = store.state(job_id) or {}
    file, suffix = DOWNLOADS[name]
    target = folder / file
    if state.get("status") not in FINAL or not target.is_file():
        return problem(request, 404, "No such file", "This job has no such download.")
    filename = f"{safe_stem(str(state.get('filename', '')))}-{suffix}.xlsx"
    return FileResponse(target, media_type=XLSX, filename=filename, headers=NO_STORE)


async def read_small_form(request: Request, limit: int = 4096) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise UploadRejectedError(413, "Too large", "The form is too large.")
    fields = parse_qs(body.decode("utf-8", "replace"))
    return {k: v[0] for k, v in fields.items() if v}


async def login_form(_request: Request) -> Response:
    return HTMLResponse(pages.login_page())


async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not settings.token:
        return RedirectResponse("/", 303)
    if not same_origin(request):
        return problem(request, 403, "Refused", "Sign in from this server's own page.")
    try:
        fields = await read_small_form(request)
    except UploadRejectedError as exc:
        return problem(request, exc.status, exc.title, exc.message)
    given = fields.get("token", "")
    if not hmac.compare_digest(given.encode(), settings.token.encode()):
        return HTMLResponse(pages.login_page(wrong=True), 401)
    response = RedirectResponse("/", 303)
    response.set_cookie(
        COOKIE,
        session_value(settings.token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    return response


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI application; all its state lives in `settings.work_dir`."""
    settings = settings or Settings.from_env()
    store = JobStore(settings)
    store.recover()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def sweeper() -> None:
            while True:
                await asyncio.sleep(settings.sweep_interval)
                await run_in_threadpool(store.sweep)

        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await run_in_threadpool(store.shutdown)

    job = "/jobs/{job_id:str}"
    routes = [
        Route("/", home),
        Route("/static/app.css", stylesheet),
        Route("/static/app.js", script),
        Route("/healthz", health),
        Route("/template.xlsx", template),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/jobs", create_job, methods=["POST"]),
        Route(job, job_page),
        Route(job + "/status", job_status),
        Route(job + "/{name:str}", download),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(Guard, settings=settings, store=store)],
    )
    app.state.settings = settings
    app.state.store = store
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, token: str | None = None) -> None:
    """Run the upload page with uvicorn until interrupted (`exposure serve`)."""
    import uvicorn

    settings = Settings.from_env(token=token)
    if host not in LOOPBACK and not settings.token:
        print(
            f"warning: listening on {host} without a token: anyone who can reach this "
            "address can upload workbooks; pass --token or set EXPOSURE_TOKEN",
            file=sys.stderr,
        )
    app = create_app(settings)
    print(f"upload page: http://{host}:{port}/  (jobs in {settings.work_dir})", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, server_header=False, timeout_keep_alive=5)
