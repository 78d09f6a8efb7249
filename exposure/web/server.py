"""The upload page (`exposure serve`): a small Starlette application served by uvicorn.

Pages are rendered on the server; the stylesheet, the small script and the
charts (inline SVG) come from the app itself, so it works on a closed network.

Routes:
  GET  /                       upload form (file picker, drag and drop, objective, scenarios)
  GET  /template.xlsx          the blank input template
  POST /jobs                   upload (multipart form, or the raw .xlsx as the body) -> job
  GET  /jobs/{id}              place in the queue, progress, then the problems or the results
  GET  /jobs/{id}/status       the job's state as JSON (polled by the page)
  GET  /jobs/{id}/results.xlsx | annotated.xlsx | whatif.xlsx   downloads
  GET  /healthz                liveness, how many jobs run and wait
  GET|POST /login              token sign-in for browsers when a token is required
  POST /logout                 ends the browser's session
  GET  /favicon.svg, /favicon.ico   the page's icon (drawn inline, nothing fetched)
"""

from __future__ import annotations

import asyncio
import contextlib
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
from exposure.web.access import LoginLimiter, Sessions
from exposure.web.assets import CSS, FAVICON, JS
from exposure.web.jobs import (
    ANNOTATED_FILE,
    FINAL,
    INPUT_FILE,
    RESULTS_FILE,
    WHATIF_FILE,
    JobStore,
    QueueFullError,
)
from exposure.web.settings import Settings
from exposure.web.upload import Upload, UploadRejectedError, body_chunks, receive_upload

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COOKIE = "exposure_session"
PUBLIC_PATHS = ("/healthz", "/login", "/static/", "/favicon.")
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


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def too_many_attempts(request: Request, retry_after: int) -> Response:
    return problem(
        request,
        429,
        "Too many sign-in attempts",
        f"Too many wrong tokens were tried from your address. Wait {retry_after} seconds, "
        "then try again.",
        **{"Retry-After": str(retry_after)},
    )


class Guard:
    """ASGI middleware: the token check (bearer or session cookie) and security headers.

    It does no work that grows with the number of jobs: expired jobs are swept
    by a background task (see `create_app`), never here.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        sessions: Sessions,
        limiter: LoginLimiter,
    ) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self.limiter = limiter

    def bearer(self, scope: Scope) -> str | None:
        """The bearer token the request carries, if any."""
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, given = authorization.partition(" ")
        return given.strip() if scheme.lower() == "bearer" else None

    def session_cookie(self, scope: Scope) -> str:
        headers = dict(scope.get("headers") or [])
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        token = self.settings.token
        if not token or scope["path"].startswith(PUBLIC_PATHS):
            await self.app(scope, receive, send_with_headers)
            return
        given = self.bearer(scope)
        if given is not None:
            address = client_address(scope)
            wait = self.limiter.retry_after(address)
            if wait:
                response = too_many_attempts(Request(scope), wait)
                await response(scope, receive, send_with_headers)
                return
            if hmac.compare_digest(given.encode(), token.encode()):
                await self.app(scope, receive, send_with_headers)
                return
            self.limiter.failed(address)  # a wrong token counts like a wrong sign-in
        elif self.sessions.valid(self.session_cookie(scope)):
            await self.app(scope, receive, send_with_headers)
            return
        request = Request(scope)
        headers = {"WWW-Authenticate": 'Bearer realm="exposure"'}
        if wants_json(request):
            response = JSONResponse(
                {"error": "unauthorised", "message": "a bearer token is required"},
                401,
                headers=headers,
            )
        else:
            response = HTMLResponse(pages.login_page(), 401, headers=headers)
        await response(scope, receive, send_with_headers)


# ------------------------------------------------------------------ handlers
async def home(request: Request) -> Response:
    return HTMLResponse(pages.home(request.app.state.settings, signed_in=_has_session(request)))


def _has_session(request: Request) -> bool:
    return bool(request.app.state.settings.token and request.cookies.get(COOKIE))


async def stylesheet(_request: Request) -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def script(_request: Request) -> Response:
    return Response(JS, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})


async def favicon(_request: Request) -> Response:
    return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


async def health(request: Request) -> Response:
    """Liveness and load, from counters in memory: no file is read, however many jobs."""
    store: JobStore = request.app.state.store
    settings: Settings = request.app.state.settings
    return JSONResponse(
        {
            "ok": True,
            "running": store.running,
            "max_jobs": settings.max_jobs,
            "queued": store.queued,
            "queue_size": settings.queue_size,
        }
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


def upload_refused(
    request: Request, settings: Settings, upload: Upload, status: int, title: str, message: str
) -> Response:
    """An upload refused: for a browser, the upload form again with the options it chose.

    A browser cannot pre-fill a file input, so the form says to choose the file
    again (naming the one chosen). The connection is closed: the body may not
    have been read to its end.
    """
    headers = {"Connection": "close"}
    if status == 503:
        headers["Retry-After"] = "60"
    if wants_json(request):
        return JSONResponse({"error": title, "message": message}, status, headers=headers)
    chosen = pages.FormChoice(
        objective=upload.fields.get("objective", "priority"),
        scenarios=upload.fields.get("scenarios", "").strip().lower() in TRUE_WORDS,
        filename=display_name(upload.filename) if upload.filename else "",
    )
    page = pages.home(
        settings,
        error=(title, message),
        chosen=chosen,
        signed_in=_has_session(request),
    )
    return HTMLResponse(page, status, headers=headers)


async def create_job(request: Request) -> Response:
    """Receive the whole upload first, check it, then queue it.

    No job slot or queue place is held while the body arrives (a slow or
    stalled sender costs one connection and its deadline, nothing more).
    """
    settings: Settings = request.app.state.settings
    store: JobStore = request.app.state.store
    if not same_origin(request):
        return problem(request, 403, "Refused", "Uploads are accepted only from this page.")
    if store.queue_full():  # refuse before reading a body that could not be queued anyway
        asked = Upload(fields=dict(request.query_params))
        return upload_refused(request, settings, asked, 503, *busy_message(settings))
    job_id, folder = store.new_folder()
    upload = Upload()
    position: int | None = None
    try:
        await receive_upload(
            request,
            folder / INPUT_FILE,
            settings.max_upload_bytes,
            idle_timeout=settings.upload_idle_timeout,
            total_timeout=settings.upload_timeout,
            upload=upload,
        )
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
        position = await run_in_threadpool(store.submit, job_id, folder, options)
    except UploadRejectedError as exc:
        return upload_refused(request, settings, upload, exc.status, exc.title, exc.message)
    except QueueFullError:
        return upload_refused(request, settings, upload, 503, *busy_message(settings))
    except ClientDisconnect:  # pragma: no cover - receive_upload converts it
        return PlainTextResponse("upload interrupted", 400)
    finally:
        if position is None:  # refused, timed out or interrupted: keep nothing of it
            store.discard(folder)
    location = f"/jobs/{job_id}"
    if wants_json(request):
        return JSONResponse(
            {
                "id": job_id,
                "url": location,
                "status_url": f"{location}/status",
                "queue_position": position,
            },
            202,
            headers={"Location": location},
        )
    return RedirectResponse(location, 303)


def busy_message(settings: Settings) -> tuple[str, str]:
    return (
        "Busy, try again in a minute",
        f"The server is running {settings.max_jobs} calculation(s) and "
        f"{settings.queue_size} more are waiting, as many as it allows. Please try again "
        "in a minute; your workbook was not kept.",
    )


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
    store: JobStore = request.app.state.store
    state = store.state(job_id)
    if state is None:
        return _missing(request, job_id)
    html = pages.job_page(job_id, state, request.app.state.settings, store.position(job_id))
    return HTMLResponse(html, headers=NO_STORE)


async def job_status(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    store: JobStore = request.app.state.store
    state = store.state(job_id)
    if state is None:
        return _missing(request, job_id)
    now = request.app.state.settings.now()
    started = float(state.get("started") or state.get("created") or now)
    end = float(state.get("finished") or now)
    public = {
        "id": job_id,
        "status": state.get("status"),
        "stage": state.get("stage", ""),
        "elapsed": round(max(0.0, end - started), 1),
        "queue_position": store.position(job_id),
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
    state = store.state(job_id)  # None too when it has just expired
    folder = store.path(job_id)
    if state is None or folder is None:
        return _missing(request, job_id)
    if name not in DOWNLOADS:
        return problem(request, 404, "No such file", "This job has no such download.")
    file, suffix = DOWNLOADS[name]
    target = folder / file
    if state.get("status") not in FINAL or not target.is_file():
        return problem(request, 404, "No such file", "This job has no such download.")
    filename = f"{safe_stem(str(state.get('filename', '')))}-{suffix}.xlsx"
    return FileResponse(target, media_type=XLSX, filename=filename, headers=NO_STORE)


async def read_small_form(request: Request, limit: int = 4096) -> dict[str, str]:
    body = b""
    async for chunk in body_chunks(request, idle_timeout=10.0, total_timeout=20.0):
        body += chunk
        if len(body) > limit:
            raise UploadRejectedError(413, "Too large", "The form is too large.")
    fields = parse_qs(body.decode("utf-8", "replace"))
    return {k: v[0] for k, v in fields.items() if v}


async def login_form(_request: Request) -> Response:
    return HTMLResponse(pages.login_page())


async def login(request: Request) -> Response:
    """Sign a browser in: a new random session per sign-in; failures are rate-limited."""
    settings: Settings = request.app.state.settings
    if not settings.token:
        return RedirectResponse("/", 303)
    if not same_origin(request):
        return problem(request, 403, "Refused", "Sign in from this server's own page.")
    limiter: LoginLimiter = request.app.state.login_limiter
    address = client_address(request.scope)
    wait = limiter.retry_after(address)
    if wait:  # the token is not even compared: guessing stops here
        return too_many_attempts(request, wait)
    try:
        fields = await read_small_form(request)
    except UploadRejectedError as exc:
        return problem(request, exc.status, exc.title, exc.message)
    given = fields.get("token", "")
    if not hmac.compare_digest(given.encode(), settings.token.encode()):
        limiter.failed(address)
        return HTMLResponse(pages.login_page(wrong=True), 401)
    sessions: Sessions = request.app.state.sessions
    response = RedirectResponse("/", 303)
    response.set_cookie(
        COOKIE,
        sessions.create(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=int(settings.session_seconds),
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    if not same_origin(request):
        return problem(request, 403, "Refused", "Sign out from this server's own page.")
    request.app.state.sessions.end(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/", 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# ------------------------------------------------------------------ the app
def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI application; all its state lives in `settings.work_dir`."""
    settings = settings or Settings.from_env()
    store = JobStore(settings)
    sessions = Sessions(settings.session_seconds, settings.now)
    limiter = LoginLimiter(
        settings.login_failures_allowed, settings.login_window_seconds, settings.now
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Jobs an earlier process left: running ones are marked failed, waiting ones restart.
        await run_in_threadpool(store.recover)

        async def sweeper() -> None:
            # Expiry reads every job's state: done here, in the background, so that
            # no request pays for it.
            while True:
                await asyncio.sleep(settings.sweep_interval)
                with contextlib.suppress(OSError):
                    await run_in_threadpool(store.sweep)

        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # Running jobs get `shutdown_grace` seconds, then are killed and marked failed;
            # finished ones stay on disk and queued ones start again after a restart.
            await run_in_threadpool(store.shutdown)

    job = "/jobs/{job_id:str}"
    routes = [
        Route("/", home),
        Route("/static/app.css", stylesheet),
        Route("/static/app.js", script),
        Route("/healthz", health),
        Route("/favicon.svg", favicon),
        Route("/favicon.ico", favicon),
        Route("/template.xlsx", template),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/jobs", create_job, methods=["POST"]),
        Route(job, job_page),
        Route(job + "/status", job_status),
        Route(job + "/{name:str}", download),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(Guard, settings=settings, sessions=sessions, limiter=limiter)],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.sessions = sessions
    app.state.login_limiter = limiter
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, token: str | None = None) -> None:
    """Run the upload page with uvicorn until interrupted (`exposure serve`).

    SIGTERM or Ctrl-C stops it gracefully: no new upload is taken, running jobs
    get `shutdown_grace` seconds to finish and are then marked failed; finished
    results and queued jobs stay in the work folder for the next start.
    """
    import uvicorn

    settings = Settings.from_env(token=token)  # EXPOSURE_TOKEN or EXPOSURE_TOKEN_FILE if None
    if host not in LOOPBACK and not settings.token:
        print(
            f"warning: listening on {host} without a token: anyone who can reach this "
            "address can upload workbooks; set EXPOSURE_TOKEN or pass --token-file",
            file=sys.stderr,
        )
    app = create_app(settings)
    print(f"upload page: http://{host}:{port}/  (jobs in {settings.work_dir})", file=sys.stderr)
    uvicorn.run(
        app,
        host=host,
        port=port,
        server_header=False,
        timeout_keep_alive=5,
        # Connections still open this long after SIGTERM are closed, so a stalled
        # client cannot keep the server from stopping.
        timeout_graceful_shutdown=int(min(settings.upload_idle_timeout, 30)),
    )
