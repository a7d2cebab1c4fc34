"""The local app's benchmarks (issue 15): UMAP time for the 3D cloud, the page's first paint and
the cloud's frame rate in headless Chromium, and search latency through the app.

Not a test: run it by hand and read the figures. The library is synthetic (clustered unit
vectors, as in bench/search_latency.py); the app runs in this process on 127.0.0.1 with the
same gate as `hygiene serve`. Chromium renders WebGL in software (SwiftShader) here, so the
frame rate is a floor for a machine with a GPU.

    .venv/bin/python bench/serve_bench.py [--photos 10000,100000] [--browser-photos 100000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from search_latency import build_library

from hygiene.categorize.embed import ModelSource
from hygiene.config import Config, SearchSettings
from hygiene.serve import Session, make_app
from hygiene.serve.cloud import cloud_for

_EXACT = SearchSettings(ann_min_photos=10**12)


def umap_seconds(photos: int, scratch: Path) -> dict[str, float]:
    library = build_library(scratch / f"umap-{photos}", photos, 512, _EXACT)
    started = time.perf_counter()
    cloud = cloud_for(library)
    spent = time.perf_counter() - started
    again = time.perf_counter()
    cloud_for(library)  # from the run folder's cache
    return {
        "photos": photos,
        "method": cloud.method,
        "layout_s": round(spent, 1),
        "cached_s": round(time.perf_counter() - again, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def serve_in_thread(session: Session) -> tuple[str, str]:
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    token = secrets.token_urlsafe(16)
    server = uvicorn.Server(
        uvicorn.Config(make_app(session, token, port), log_level="warning", lifespan="off")
    )
    threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True).start()
    return f"http://127.0.0.1:{port}", token


def app_figures(photos: int, scratch: Path) -> dict[str, object]:
    # the library umap_seconds laid out, when it measured this size: its layout is cached
    library = build_library(scratch / f"umap-{photos}", photos, 512, _EXACT)
    cloud_for(library)  # computed once, as the app's first view would
    unused = ModelSource("bench", lambda: (_ for _ in ()).throw(RuntimeError("no model")))
    base, token = serve_in_thread(Session(library, unused, Config()))
    host = base.removeprefix("http://")
    spent = []
    for entry in range(0, photos, max(1, photos // 60))[:60]:
        conn = http.client.HTTPConnection(*host.split(":"))
        started = time.perf_counter()
        conn.request("GET", f"/api/like/{entry}?token={token}&top=24")
        response = conn.getresponse()
        response.read()
        spent.append((time.perf_counter() - started) * 1000)
        assert response.status == 200
    figures: dict[str, object] = {"photos": photos}
    p50, p95 = np.percentile(spent[3:], [50, 95])
    figures["like_query_ms"] = f"p50 {p50:.1f}, p95 {p95:.1f}"

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        started = time.perf_counter()
        page.goto(f"{base}/?token={token}")
        page.wait_for_selector("body[data-app=ready]")
        paint = page.evaluate(
            """() => new Promise((done) => {
                new PerformanceObserver((list) => {
                    const first = list.getEntriesByName("first-contentful-paint")[0];
                    if (first) done(first.startTime);
                }).observe({ type: "paint", buffered: true });
                setTimeout(() => done(-1), 10000);
            })"""
        )
        page.wait_for_selector("body[data-cloud=ready]", timeout=600_000)
        figures["first_contentful_paint_ms"] = round(paint)
        figures["cloud_drawn_s"] = round(time.perf_counter() - started, 2)
        frame_ms = page.evaluate(
            """() => new Promise((done) => {
                let frames = 0; const start = performance.now();
                const step = () => {
                    window.hygieneCloud.frame();
                    if (++frames < 60) requestAnimationFrame(step);
                    else done((performance.now() - start) / frames);
                };
                requestAnimationFrame(step);
            })"""
        )
        figures["cloud_frame_ms"] = round(frame_ms, 1)
        figures["cloud_fps"] = round(1000 / frame_ms, 1)
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="10000,100000", help="UMAP sizes")
    parser.add_argument("--browser-photos", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for count in (int(v) for v in args.photos.split(",") if v):
            print(json.dumps(umap_seconds(count, Path(scratch))), flush=True)
        if args.browser_photos:
            print(json.dumps(app_figures(args.browser_photos, Path(scratch))), flush=True)


if __name__ == "__main__":
    main()
