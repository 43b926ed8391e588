"""The console's web app: two pages (list, execution) and the JSON they poll.

Pages are static shells; the script fills them from ``/api/...`` with ``textContent`` only,
so no user-controlled string (an image key, an error cause) is ever parsed as HTML. The one
piece of markup sent as data is the graph's SVG, built server-side with every string escaped.

Requests under a foreign Host name (DNS rebinding) and writes from another origin (cross-site
request forgery) are refused before they reach a route: see ``facepipe.console.guard``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from facepipe.console.execution_view import counts_note, execution_payload
from facepipe.console.guard import LOOPBACK_HOSTS, SameOriginWrites
from facepipe.console.map_runs import MAX_CHILDREN_PAGE
from facepipe.console.source import ConsoleSource, UploadRefused
from facepipe.console.uploads import (
    MAX_UPLOAD_BYTES,
    image_type,
    read_capped,
    refuse_declared_size,
    sniff_image,
)

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# ListExecutions' statusFilter values, for a Map Run's children:
# https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html
CHILD_STATUSES = (*STATUSES, "PENDING_REDRIVE")
CHILD_PAGE = 50
_SECURITY_HEADERS = {
    # Only our own script and style; images from us (and data: for none).
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none';"
    " base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # No other site may embed our answers (an <img> of a face, a <script> of the JSON).
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _static_dir() -> str:
    return str(resources.files("facepipe.console") / "static")


def _json(data: Any, status_code: int = 200) -> JSONResponse:
    return _JSONResponse(data, status_code=status_code, headers=_SECURITY_HEADERS)


class _JSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default, ensure_ascii=False).encode("utf-8")


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _error(message: str, status_code: int) -> JSONResponse:
    return _json({"error": message}, status_code)


def create_app(
    source: ConsoleSource,
    *,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
) -> Starlette:
    """The console; it answers only requests whose Host is one of ``allowed_hosts``."""
    static = _static_dir()

    def page(name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return FileResponse(f"{static}/{name}", headers=_SECURITY_HEADERS)

        return endpoint

    # The sources block (SQLite, files, AWS calls): run them off the event loop.
    def _execution_payload(arn: str) -> dict[str, Any] | None:
        detail = source.execution(arn)
        return execution_payload(source, detail) if detail is not None else None

    def _image(arn: str) -> bytes | None:
        detail = source.execution(arn)
        return source.image(detail) if detail is not None else None

    async def list_executions(request: Request) -> Response:
        status = request.query_params.get("status") or None
        if status is not None and status not in STATUSES:
            return _error(f"unknown status {status!r}; use one of {', '.join(STATUSES)}", 400)
        items = await run_in_threadpool(source.list_executions, status)
        return _json({"title": source.title, "executions": [item.to_dict() for item in items]})

    async def show_execution(request: Request) -> Response:
        payload = await run_in_threadpool(_execution_payload, request.query_params.get("arn", ""))
        if payload is None:
            return _error("no such execution", 404)
        return _json(payload)

    async def image(request: Request) -> Response:
        data = await run_in_threadpool(_image, request.query_params.get("arn", ""))
        if data is None:
            return _error("no image for this execution", 404)
        # Only JPEG and PNG, by their first bytes, are served, and as what the bytes are;
        # an SVG or HTML file "image" would run script in the console's origin.
        sniffed = sniff_image(data)
        if sniffed is None:
            return _error(
                "this execution's image is not a JPEG or PNG (by its first bytes);"
                " the console shows only those",
                415,
            )
        return Response(data, media_type=sniffed[0], headers=_SECURITY_HEADERS)

    async def show_map_run(request: Request) -> Response:
        run = await run_in_threadpool(source.map_run, request.query_params.get("arn", ""))
        if run is None:
            return _error("no such Map Run", 404)
        return _json({"mapRun": run, "counts": counts_note(run)})

    async def map_run_children(request: Request) -> Response:
        query = request.query_params
        status = query.get("status") or None
        if status is not None and status not in CHILD_STATUSES:
            return _error(f"unknown status {status!r}; use one of {', '.join(CHILD_STATUSES)}", 400)
        limit_text = query.get("limit") or str(CHILD_PAGE)
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_CHILDREN_PAGE:
            return _error(f"limit must be a whole number from 1 to {MAX_CHILDREN_PAGE}", 400)
        try:
            page = await run_in_threadpool(
                source.map_run_children,
                query.get("arn", ""),
                status,
                int(limit_text),
                query.get("nextToken") or None,
            )
        except ValueError as invalid:
            return _error(str(invalid), 400)
        if page is None:
            return _error("no such Map Run", 404)
        return _json({"executions": page.executions, "nextToken": page.next_token})

    async def upload(request: Request) -> Response:
        filename = unquote(request.headers.get("x-filename", "upload"))
        try:
            refuse_declared_size(request.headers.get("content-length"), max_upload_bytes)
            data = await read_capped(request.stream(), max_upload_bytes)
            content_type, _ = image_type(data, filename)
            receipt = await run_in_threadpool(source.upload, filename, data, content_type)
        except UploadRefused as refused:
            return _error(str(refused), refused.status_code)
        except ClientDisconnect:
            return _error("the upload was interrupted before it ended; nothing was stored", 400)
        answer = {"bucket": receipt.bucket, "key": receipt.key, "versionId": receipt.version_id}
        if receipt.skipped is not None:  # the same bytes ran already: nothing stored
            return _json({**answer, "skipped": receipt.skipped}, 200)
        return _json(answer, 201)

    routes = [
        Route("/", page("index.html")),
        Route("/execution", page("execution.html")),
        Route("/api/executions", list_executions),
        Route("/api/execution", show_execution),
        Route("/api/image", image),
        Route("/api/map-run", show_map_run),
        Route("/api/map-run/executions", map_run_children),
        Route("/api/uploads", upload, methods=["POST"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=False),
        Middleware(SameOriginWrites, headers=_SECURITY_HEADERS),
    ]
    return Starlette(routes=routes, middleware=middleware)
