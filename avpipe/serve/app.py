"""The web app of ``avpipe serve``: pages and a JSON API over one results folder (FastAPI).

Routes (the OpenAPI description is at ``/openapi.json``; the interactive docs FastAPI would
load from a CDN are off: nothing here comes from elsewhere):

- pages: ``/`` the library, ``/search`` the search page, ``/videos/{id}`` a video;
- API: ``GET /api/videos``, ``GET /api/videos/{id}``, ``GET /api/search?q=&k=&modality=``,
  ``POST /api/search/image`` (the image itself as the body), ``GET /api/videos/{id}/ask?q=``;
- files: ``/media/{id}`` the original video (range requests, for seeking), ``/files/{id}/PATH``
  a file of the result folder (keyframes, subtitles), ``/static/...`` the pages' script and style.

Safety (:func:`guard`): every response carries a Content-Security-Policy that allows only this
origin (scripts from ``/static``, no inline script, nothing from a network) and ``nosniff``.
With a token, every request must bring it (``Authorization: Bearer``, ``X-Avpipe-Token``, or the
cookie a first visit with ``?token=`` sets). Without one (a loopback bind), requests must name a
loopback host, so a web page elsewhere cannot reach the app by pointing a domain at 127.0.0.1
(DNS rebinding). Pages escape every text (Jinja2 autoescaping; the script sets ``textContent``).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import io
import ipaddress
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, RedirectResponse

from .library import Library, NotServed, Original, files_url, media_url

#: Largest image a search upload may be.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
STATIC = Path(__file__).with_name("static")
#: Nothing about the requests leaves the machine: FastAPI releases with OpenTelemetry built in
#: (which an environment variable can point at an exporter) get it switched off.
NO_TELEMETRY = {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False,
                              "auto_configure": False}} \
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only: ``localhost`` or a loopback address."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:8765`` -> ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Searcher:
    """Search over the folder's index, the loaded collection kept while its manifest is unchanged
    (the manifest names one generation of shards, so the same bytes mean the same index)."""

    def __init__(self, library: Library):
        self.library = library
        self.lock = threading.Lock()
        self._manifest: bytes | None = None
        self._collection = None

    def collection(self):
        from ..errors import AvpipeError
        from ..search import load_index
        from ..search.index import INDEX_DIR

        try:
            data = (self.library.out / INDEX_DIR / "manifest.json").read_bytes()
        except OSError:
            raise AvpipeError("this results folder has no search index yet: it is made when `avpipe run` ends "
                              "(or by `avpipe index DIR`)") from None
        if data != self._manifest or self._collection is None:
            self._collection, self._manifest = load_index(self.library.out), data
        return self._collection

    def warm(self) -> None:
        """Load the index and its text and image encoders now (the server calls this when it
        starts), so that the first query does not wait for them; a folder without an index yet
        is no error here."""
        from ..search.query import _encoder_of

        try:
            with self.lock:
                _encoder_of(self.collection()).encode_texts(["a first query"])
        except Exception:  # noqa: BLE001 - the query that needs it says what is wrong
            pass

    def search(self, **query) -> list[dict]:
        """Moments as :func:`avpipe.search.search` finds them, each with its video's name, page
        and thumbnail as URLs of this app."""
        from ..search import search

        with self.lock:  # one query at a time: the encoders are shared, and the CPU is the limit
            if "face" in query:  # where the person in a photo is seen (the people index)
                from ..people.find import by_face

                moments = by_face(self.library.out, query["face"], k=query.get("k", 10))
            else:
                moments = search(self.collection(), **query)
        if query.get("text"):  # a person's name finds where they are seen and heard
            from ..people.find import named_first

            moments = named_first(self.library.out, query["text"], moments, query.get("k", 10))
        names = {r.video_id: Path(r.input).name for r in self.library.records() if r.video_id}
        originals: dict[str, Any] = {}
        rows = []
        for m in moments:
            if m.video_id not in originals:
                try:
                    originals[m.video_id] = self.library.original(m.video_id)
                except Exception as exc:  # noqa: BLE001 - the moment is still shown, with why it cannot play
                    originals[m.video_id] = Original(None, str(exc))
            original = originals[m.video_id]
            row = m.as_dict()
            row["thumbnail"] = file_url(self.library, m.thumbnail)
            row["name"] = names.get(m.video_id, m.video_id)
            row["page"] = f"/videos/{quote(m.video_id)}#t={m.start:g}"
            row["media"] = media_url(m.video_id) if original.path else None
            row["media_problem"] = original.problem
            rows.append(row)
        return rows


def file_url(library: Library, path: str | None) -> str | None:
    """The ``/files/`` URL of a file under the results folder (a path, absolute or relative to it)."""
    if not path:
        return None
    p = Path(path)
    try:
        relative = (p if not p.is_absolute() else p.relative_to(library.out)).parts
    except ValueError:
        return None
    return files_url(relative[0], Path(*relative[1:])) if len(relative) >= 2 else None


def video_row(library: Library, record) -> dict:
    """One library entry: the record's facts, and the result's where there is one."""
    row: dict[str, Any] = {"id": record.video_id, "name": Path(record.input).name, "input": record.input,
                           "status": record.status, "partial": record.partial, "seconds": record.seconds,
                           "error": f"{record.error.type}: {record.error.message}" if record.error else None,
                           "duration_s": None, "languages": {}, "speakers": 0, "faces": 0, "summary": "",
                           "thumbnail": None, "page": None, "problems": []}
    if record.status not in ("ok", "skipped") or not record.video_id:
        return row
    try:
        result = library.result(record.video_id)
    except NotServed as exc:
        row["error"] = f"its result cannot be shown: {exc}"
        return row
    except Exception as exc:  # noqa: BLE001 - a damaged result is shown as such, the rest listed
        row["error"] = str(exc)
        return row
    first = next((k for k in result.keyframes if k.thumbnail), None)
    t = result.transcript
    row.update(duration_s=result.video.duration_s, languages=dict(t.languages) or ({t.language: 1.0} if t.language else {}),
               speakers=result.speaker_count(),
               faces=len({e.label for e in result.events if e.kind == "face_appear"}),
               summary=result.summary.text[:300], page=f"/videos/{quote(record.video_id)}",
               thumbnail=files_url(record.video_id, first.thumbnail) if first else None,
               problems=[f"{e.stage}: {e.type}: {e.message}" for e in result.errors])
    return row


def cookie_name(token: str) -> str:
    """The token's cookie, named after the token: two servers on one host keep their own."""
    return "avpipe_token_" + hashlib.sha256(token.encode()).hexdigest()[:12]


def guard(token: str | None, loopback_only: bool):
    """The middleware that answers every request (see the module docstring)."""
    import logging

    async def middleware(request, call_next):
        if loopback_only and not is_loopback(host_name(request.headers.get("host", ""))):
            response = PlainTextResponse("this server answers requests for localhost only", 421)
        elif request.headers.get("sec-fetch-site") == "cross-site":  # another site's page, in a browser
            response = PlainTextResponse("requests from other sites are refused", 403)
        elif token is not None and not _has_token(request, token):
            given = request.query_params.get("token")
            if given is not None and hmac.compare_digest(given.encode(), token.encode()):
                # a first visit with ?token=: the cookie from now on, and the same address without it
                rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
                response = RedirectResponse("/" + quote(request.url.path.lstrip("/")) + (f"?{rest}" if rest else ""), 303)
                response.set_cookie(cookie_name(token), token, httponly=True, samesite="lax")
            else:
                response = PlainTextResponse("a token is needed: open the address `avpipe serve` printed, or send "
                                             "the header 'Authorization: Bearer TOKEN'", 401)
        else:
            try:
                response = await call_next(request)
            except Exception:  # noqa: BLE001 - a bug answers 500, still with the headers below
                logging.getLogger("avpipe.serve").exception("%s %s failed", request.method, request.url.path)
                response = PlainTextResponse("internal error (the server's log says where)", 500)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        return response

    return middleware


def _has_token(request, token: str) -> bool:
    auth = request.headers.get("authorization", "")
    given = [auth[7:].strip() if auth.lower().startswith("bearer ") else None,
             request.headers.get("x-avpipe-token"), request.cookies.get(cookie_name(token))]
    return any(g is not None and hmac.compare_digest(g.encode(), token.encode()) for g in given)


def make_app(out: str | Path, token: str | None = None, loopback_only: bool = True,
             max_upload_bytes: int = MAX_UPLOAD_BYTES) -> FastAPI:
    """The app over the results folder ``out``. ``token``: required of every request when given.
    ``loopback_only``: answer only requests that name a loopback host (a loopback bind)."""
    from .. import __version__
    from ..errors import AvpipeError, BadQuery, DamagedResult, IndexDamaged
    from .pages import render

    library = Library(out)
    searcher = Searcher(library)
    app = FastAPI(title="avpipe", version=__version__, docs_url=None, redoc_url=None, **NO_TELEMETRY,
                  description="Read-only access to one avpipe results folder: its videos, their results, search "
                              "across them, and questions answered with timestamped evidence.")
    app.state.searcher = searcher
    app.middleware("http")(guard(token, loopback_only))

    @app.get("/static/report.css", include_in_schema=False)
    def report_css():  # the report's own style, which report.html.j2 includes inline
        return FileResponse(Path(__file__).parent.parent / "templates" / "report.css", media_type="text/css")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def not_served(exc: NotServed):
        return HTTPException(exc.status, str(exc))

    def result_or_404(video_id: str):
        try:
            return library.result(video_id)
        except NotServed as exc:
            raise not_served(exc) from None
        except DamagedResult as exc:
            raise HTTPException(409, str(exc)) from None

    def run_search(**query) -> dict:
        try:
            return {"moments": searcher.search(**query)}
        except BadQuery as exc:
            raise HTTPException(400, str(exc)) from None
        except IndexDamaged as exc:
            raise HTTPException(503, f"{exc}; `avpipe index {library.out}` repairs it") from None
        except AvpipeError as exc:
            raise HTTPException(409, str(exc)) from None

    # ------------------------------------------------------------------ API

    @app.get("/api/videos", summary="Every input of the folder, with its status and the result's main facts")
    def api_videos() -> dict:
        rows = [video_row(library, r) for r in library.records()]
        counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "error")}
        return {"videos": rows, "counts": counts, "damaged_lines": library.damaged_lines}

    @app.get("/api/videos/{video_id}", summary="One video's whole result, and where its original file is")
    def api_video(video_id: str) -> dict:
        result = result_or_404(video_id)
        original = library.original(video_id)
        return {"id": video_id, "result": result.model_dump(mode="json"),
                "media": {"url": media_url(video_id) if original.path else None, "problem": original.problem},
                "files": files_url(video_id, "") + "/"}

    @app.get("/api/search", summary="Moments matching a text query, best first (as `avpipe search`)")
    def api_search(q: str = Query(..., description="what to look for"), k: int = Query(10, ge=1, le=200),
                   modality: str = Query("both", pattern="^(both|frames|speech)$")) -> dict:
        return {"query": q, **run_search(text=q, k=k, modality=modality)}

    @app.post("/api/search/image", summary="Moments that look like the image sent as the request body",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "image/*": {"schema": {"type": "string", "format": "binary"}}}}})
    async def api_search_image(request: Request, k: int = Query(10, ge=1, le=200)) -> dict:
        return await run_in_threadpool(run_search, image=await uploaded(request), k=k)

    @app.post("/api/search/face", summary="Moments where the person in the photo sent as the body is seen "
              "(as `avpipe search --face`)",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "image/*": {"schema": {"type": "string", "format": "binary"}}}}})
    async def api_search_face(request: Request, k: int = Query(10, ge=1, le=200)) -> dict:
        return await run_in_threadpool(run_search, face=await uploaded(request), k=k)

    @app.get("/api/people", summary="The people of the folder (its people index), with where each is seen and heard")
    def api_people() -> dict:
        from ..people import load

        try:
            people = load(library.out).summary()
        except AvpipeError as exc:
            raise HTTPException(409, str(exc)) from None
        for person in people:  # keyframes that show them, as URLs of this app (the /files/ route)
            person["thumbnails"] = [u for u in (file_url(library, t) for t in person["thumbnails"]) if u]
        return {"people": people}

    async def uploaded(request: Request) -> io.BytesIO:
        """The request body (an image), at most ``max_upload_bytes``."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_upload_bytes:
            raise HTTPException(413, f"the image is larger than {max_upload_bytes // (1024 * 1024)} MB")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_upload_bytes:
                raise HTTPException(413, f"the image is larger than {max_upload_bytes // (1024 * 1024)} MB")
        if not body:
            raise HTTPException(400, "send the image as the request body")
        return io.BytesIO(bytes(body))

    @app.get("/api/videos/{video_id}/ask", summary="Answer a question about one video, with timestamped evidence")
    def api_ask(video_id: str, q: str = Query(..., min_length=1), k: int = Query(5, ge=1, le=50)) -> dict:
        from ..search import ask

        result_or_404(video_id)
        if not q.strip():
            raise HTTPException(400, "the question is empty")
        try:
            with searcher.lock:  # the text encoder is shared with search
                answer = ask(library.folder(video_id), q, k=k).as_dict()
        except AvpipeError as exc:
            raise HTTPException(409, str(exc)) from None
        for e in answer["evidence"]:
            e["thumbnail"] = files_url(video_id, e["thumbnail"]) if e.get("thumbnail") else None
        return answer

    # ------------------------------------------------------------------ files

    @app.api_route("/media/{video_id}", methods=["GET", "HEAD"], summary="The original video (HTTP range requests supported)",
             response_class=FileResponse)
    def media(video_id: str):
        result_or_404(video_id)
        original = library.original(video_id)
        if original.path is None:
            raise HTTPException(404, original.problem)
        return FileResponse(original.path, media_type=original.content_type)

    @app.api_route("/files/{video_id}/{path:path}", methods=["GET", "HEAD"],
                   summary="A file of a video's result folder (keyframes, subtitles, result.json)",
             response_class=FileResponse)
    def files(video_id: str, path: str):
        try:
            found, kind = library.result_file(video_id, path)
        except NotServed as exc:
            raise not_served(exc) from None
        return FileResponse(found, media_type=kind)

    # ------------------------------------------------------------------ pages

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():  # none: said without an error in the browser's console
        from starlette.responses import Response

        return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def library_page():
        return HTMLResponse(render("library", out=str(library.out), **api_videos()))

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(q: str = ""):
        return HTMLResponse(render("search", q=q))

    @app.get("/videos/{video_id}", response_class=HTMLResponse, include_in_schema=False)
    def video_page(video_id: str):
        from .pages import video_context

        result = result_or_404(video_id)
        return HTMLResponse(render("video", **video_context(result, library.folder(video_id), video_id,
                                                            library.original(video_id))))

    @app.exception_handler(StarletteHTTPException)
    async def plain_errors(request: Request, exc: StarletteHTTPException):
        """API errors as ``{"detail": ...}``; a page's as a page that says it plainly."""
        if request.url.path.startswith(("/api/", "/media/", "/files/")):
            return JSONResponse({"detail": exc.detail}, exc.status_code)
        return HTMLResponse(render("problem", status=exc.status_code, message=str(exc.detail)), exc.status_code)

    return app
