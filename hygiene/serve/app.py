"""The local app's routes: the page and its assets, search by phrase, by a dropped image and by
another photo, the 3D cloud, photos and thumbnails by their entry number in the run, and the
run's report with dry run, apply and undo (hygiene.serve.review). A URL never carries a path to
the file system: files are found by entry number or by a name pattern inside the run folder.
Every request passes hygiene.serve.guard first.
"""

from __future__ import annotations

import json
import mimetypes
import re
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from hygiene.categorize.embed import ModelSource
from hygiene.config import Config
from hygiene.search import Library, Ranking, SearchError, rank, text_vector
from hygiene.search.query import image_bytes_vector
from hygiene.serve.cloud import Cloud, cloud_for
from hygiene.serve.guard import Guard
from hygiene.serve.review import MAX_PLAN_BYTES, Review, ReviewError

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
CLOUD_NOTE = (
    "Distances in the cloud are approximate (UMAP keeps neighbourhoods, not distances); "
    "search scores are exact."
)
_ASSETS = resources.files("hygiene.serve") / "assets"
_REPORT = resources.files("hygiene.outputs") / "report_assets"
_DATA_NAME = re.compile(r"meta\.js|images-[0-9]{1,6}\.js")
_THUMB_NAME = re.compile(r"[0-9a-f]{64}\.webp")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


@dataclass
class Session:
    """What the app serves: one run's library, its model (loaded on the first phrase or new
    image) and its cloud (computed in the background on first request)."""

    library: Library
    model: ModelSource
    config: Config
    _cloud: Cloud | None = None
    _cloud_error: str = ""
    _cloud_thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cloud(self) -> tuple[Cloud | None, str]:
        """The layout when ready (else None, and it is being computed), and why it failed ("" when
        it did not)."""
        with self._lock:
            if self._cloud is None and self._cloud_thread is None:
                self._cloud_thread = threading.Thread(target=self._compute_cloud, daemon=True)
                self._cloud_thread.start()
            return self._cloud, self._cloud_error

    def _compute_cloud(self) -> None:
        try:
            cloud = cloud_for(self.library)
        except Exception as exc:  # any failure is shown on the page, never kills the app
            self._cloud_error = f"{type(exc).__name__}: {exc}"
            return
        self._cloud = cloud


def make_app(session: Session, token: str, port: int) -> Guard:
    library = session.library
    root = Path(library.root)
    root_resolved = root.resolve()

    def photo_row(entry: int) -> dict:
        photo = library.photos[entry]
        return {
            "id": entry,
            "path": photo.path,
            "category": photo.category,
            "taken_at": photo.taken_at,
            "copies": photo.copies,
            "thumb": f"/thumb/{entry}" if photo.thumbnail else "",
        }

    def results(ranking: Ranking) -> JSONResponse:
        hits = []
        for hit in ranking.hits:
            entry = library.entry_with(hit.photo.sha256)
            if entry is not None:
                hits.append({"rank": hit.rank, "score": round(hit.score, 4), **photo_row(entry)})
        return JSONResponse(
            {"results": hits, "floor": ranking.floor, "under_floor": ranking.under_floor}
        )

    def filters(request: Request) -> dict:
        query = request.query_params
        try:
            top = min(max(int(query.get("top", "24")), 1), 500)
            threshold = float(query["threshold"]) if query.get("threshold") else None
        except ValueError:
            raise SearchError("top and threshold must be numbers") from None
        return {"top": top, "threshold": threshold, "category": query.get("category") or None}

    def search_text(request: Request) -> Response:
        try:
            vector = text_vector(session.model.get(), request.query_params.get("q", ""))
            return results(rank(library, vector, **filters(request)))
        except SearchError as exc:
            return _error(str(exc))

    async def search_image(request: Request) -> Response:
        data = await _body(request, MAX_UPLOAD_BYTES)
        if data is None:
            return _error(f"an image of more than {MAX_UPLOAD_BYTES >> 20} MiB", 413)
        try:
            wanted = filters(request)
            vector = await run_in_threadpool(
                image_bytes_vector,
                data,
                "the dropped file",
                library,
                session.model.get,
                max_pixels=session.config.scan.max_pixels,
                thumbnail_px=session.config.scan.thumbnail_px,
            )
            return results(await run_in_threadpool(rank, library, vector, **wanted))
        except SearchError as exc:
            return _error(str(exc))

    def like(request: Request) -> Response:
        entry = request.path_params["entry"]
        if not 0 <= entry < len(library.photos):
            return _error("no such photo", 404)
        try:
            ranking = rank(library, library.vector(entry), exclude=entry, **filters(request))
        except SearchError as exc:
            return _error(str(exc))
        return results(ranking)

    def info(request: Request) -> Response:
        categories = sorted({photo.category for photo in library.photos if photo.category})
        return JSONResponse(
            {
                "root": library.root,
                "run": library.run_dir.name,
                "model": library.model_id,
                "photos": len(library.photos),
                "categories": categories,
                "index": "HNSW (approximate)" if library.index.approximate else "exact",
            }
        )

    def cloud(request: Request) -> Response:
        layout, failure = session.cloud()
        if layout is None:
            if failure:
                return _error(f"the cloud could not be computed: {failure}", 500)
            return JSONResponse({"status": "computing"}, status_code=202)
        return JSONResponse(
            {
                "status": "ready",
                "method": layout.method,
                "note": CLOUD_NOTE,
                "positions": [[round(float(v), 4) for v in p] for p in layout.positions],
                "photos": [
                    {"id": i, "path": p.path, "category": p.category}
                    for i, p in enumerate(library.photos)
                ],
            }
        )

    def photo_info(request: Request) -> Response:
        entry = request.path_params["entry"]
        if not 0 <= entry < len(library.photos):
            return _error("no such photo", 404)
        return JSONResponse(photo_row(entry) | {"photo": f"/photo/{entry}"})

    def thumb(request: Request) -> Response:
        entry = request.path_params["entry"]
        if not 0 <= entry < len(library.photos) or not library.photos[entry].thumbnail:
            return _error("no such thumbnail", 404)
        return FileResponse(library.photos[entry].thumbnail, media_type="image/webp")

    def photo_file(request: Request) -> Response:
        entry = request.path_params["entry"]
        if not 0 <= entry < len(library.photos):
            return _error("no such photo", 404)
        target = (root / library.photos[entry].path).resolve()
        # the run's own record names the file; still, nothing outside the archive is served
        if not target.is_relative_to(root_resolved) or not target.is_file():
            return _error("the photo is no longer in the archive", 404)
        media_type = mimetypes.guess_type(target.name)[0] or ""
        if not media_type.startswith("image/"):
            return FileResponse(target, media_type="application/octet-stream", filename=target.name)
        return FileResponse(target, media_type=media_type)

    review = Review(library.run_dir, root, session.config)
    run_dir = library.run_dir

    def report_file(request: Request) -> Response:
        """The run's report (data chunks, thumbnails) and its page code, by name patterns."""
        folder, name = request.path_params["folder"], request.path_params["name"]
        wanted = {"data": _DATA_NAME, "thumbs": _THUMB_NAME}.get(folder)
        if wanted is None or not wanted.fullmatch(name) or not (run_dir / folder / name).is_file():
            return _error("not found", 404)
        kind = "text/javascript" if name.endswith(".js") else "image/webp"
        return FileResponse(run_dir / folder / name, media_type=kind)

    def report_code(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("report.js", "report.css"):
            return _error("not found", 404)
        return Response((_REPORT / name).read_bytes(), media_type=_TYPES[Path(name).suffix])

    async def plan_step(request: Request) -> Response:
        step = request.path_params["step"]
        try:
            body = await _json_body(request, MAX_PLAN_BYTES)
            if step == "dry-run":
                done = await run_in_threadpool(review.dry_run, body.get("plan"))
            elif step == "apply":
                done = await run_in_threadpool(
                    review.apply, str(body.get("plan", "")), str(body.get("confirm", ""))
                )
            elif step == "undo":
                done = await run_in_threadpool(review.undo, str(body.get("plan", "")))
            else:
                return _error("not found", 404)
        except ReviewError as exc:
            return _error(str(exc))
        return JSONResponse(done)

    def page(request: Request) -> Response:
        return asset_response("index.html")

    def asset(request: Request) -> Response:
        return asset_response(request.path_params["name"])

    routes = [
        Route("/", page),
        Route("/assets/{name}", asset),
        Route("/api/info", info),
        Route("/api/search", search_text),
        Route("/api/search/image", search_image, methods=["POST"]),
        Route("/api/like/{entry:int}", like),
        Route("/api/cloud", cloud),
        Route("/api/photo/{entry:int}", photo_info),
        Route("/thumb/{entry:int}", thumb),
        Route("/photo/{entry:int}", photo_file),
        Route("/report/", lambda request: asset_response("review.html")),
        Route("/report/{name}", report_code),
        Route("/report/{folder}/{name}", report_file),
        Route("/api/plan/{step}", plan_step, methods=["POST"]),
    ]
    return Guard(Starlette(routes=routes), token, port)


def asset_response(name: str) -> Response:
    """A file of the package's assets folder, by its bare name (nothing else is reachable)."""
    if "/" in name or name.startswith(".") or Path(name).suffix not in _TYPES:
        return _error("not found", 404)
    resource = _ASSETS / name
    if not resource.is_file():
        return _error("not found", 404)
    return Response(resource.read_bytes(), media_type=_TYPES[Path(name).suffix])


async def _body(request: Request, limit: int) -> bytes | None:
    """The request's body, read no further than `limit` bytes (None past it)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def _json_body(request: Request, limit: int) -> dict:
    data = await _body(request, limit)
    if data is None:
        raise ReviewError("the request is too large")
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        raise ReviewError("the request is not JSON") from None
    if not isinstance(body, dict):
        raise ReviewError("the request is not a JSON object")
    return body


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
