"""`hygiene serve` against a live server the tests start, driven by Playwright with Debian's
chromium: text search, an image dropped on the page, the 3D cloud and its clicks, and the gate
(token, host, origin, climbing paths). The micro CLIP the tests train is the run's model."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from hygiene.demo import samples
from hygiene.serve.cloud import layout
from tests import micro_clip
from tests.conftest import chromium_browser, run_hygiene
from tests.test_categorize import CONFIG


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A scanned archive and a live `hygiene serve` over its run: (url, base, truth)."""
    base = tmp_path_factory.mktemp("serve")
    model = micro_clip.train(base / "micro")
    root = base / "archive"
    truth = micro_clip.write_archive(root, per_class=8, seed=3)
    for name in ("blue_5.png", "red_1.png"):  # exact copies: a plan with removals to review
        copy = name.replace(".png", " copy.png")
        shutil.copyfile(root / name, root / copy)
        truth[copy] = truth[name]
    config = base / "clip.toml"
    config.write_text(CONFIG)
    scanned = run_hygiene(
        "scan", root, "--out", base / "run", "--catalog", base / "c.sqlite", "--quiet",
        "--config", config, "--workers", "2", "--model-path", model, timeout=600,
    )  # fmt: skip
    assert scanned.returncode == 0, scanned.stderr
    server = subprocess.Popen(
        [sys.executable, "-m", "hygiene", "serve", str(base / "run"), "--model-path", str(model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HYGIENE_CONFIG": str(base / "none.toml")},
    )
    url = server.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), server.stderr.read()
    yield url, base, truth
    server.send_signal(signal.SIGINT)  # Ctrl-C
    assert server.wait(timeout=20) == 0
    assert "Traceback" not in server.stderr.read()


def request(url: str, path: str, *, method="GET", headers=None, body=None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in {"Host": parts.netloc, **(headers or {})}.items():
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    return response.status, response.read(), dict(response.getheaders())


def token_of(url: str) -> str:
    return urlsplit(url).query.split("token=", 1)[1]


def test_the_gate_refuses_what_it_must(served):
    url, _, _ = served
    token = token_of(url)
    origin = f"http://{urlsplit(url).netloc}"
    assert request(url, "/api/info")[0] == 403  # no token
    assert request(url, "/api/info?token=wrong")[0] == 403
    status, body, headers = request(url, f"/api/info?token={token}")
    assert status == 200 and json.loads(body)["photos"] > 0
    assert "default-src 'self'" in headers["content-security-policy"]
    # another host name for this address (DNS rebinding)
    assert request(url, f"/api/info?token={token}", headers={"Host": "evil.example"})[0] == 403
    # a change from another page
    image = samples.encoded(Image.new("RGB", (32, 32), (200, 180, 40)), "PNG")
    refused = request(
        url, f"/api/search/image?token={token}", method="POST", body=image,
        headers={"Origin": "http://evil.example"},
    )  # fmt: skip
    assert refused[0] == 403
    missing = request(url, f"/api/search/image?token={token}", method="POST", body=image)
    assert missing[0] == 403
    allowed = request(
        url, f"/api/search/image?token={token}", method="POST", body=image,
        headers={"Origin": origin},
    )  # fmt: skip
    assert allowed[0] == 200, allowed[1]
    # paths that climb, however spelled, never reach the file system
    for path in (
        "/assets/../../cli.py",
        "/assets/..%2f..%2fcli.py",
        "/assets/%2e%2e%2fconfig.py",
        "/thumb/..%252f..%252fetc%252fpasswd",
        "/photo/-1",
        "/photo/99999",
        "/assets/three.LICENSE",
    ):
        status = request(url, f"{path}?token={token}")[0]
        assert status in (400, 404), (path, status)
    # the cookie the page load sets carries the token for the rest
    status, _, headers = request(url, f"/?token={token}")
    assert status == 200 and "HttpOnly" in headers["set-cookie"]
    cookie = headers["set-cookie"].split(";", 1)[0]
    assert request(url, "/api/info", headers={"Cookie": cookie})[0] == 200


@pytest.fixture(scope="module")
def browser():
    with chromium_browser(webgl=True) as chromium:  # the cloud is WebGL
        yield chromium


@pytest.fixture
def page(browser, served):
    url = served[0]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    origin = f"http://{urlsplit(url).netloc}/"
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith((origin, "data:", "blob:"))
            else page.problems.append(f"request off the app: {r.url}")
        ),
    )
    page.goto(url)
    page.wait_for_selector("body[data-app=ready]")
    yield page
    assert page.problems == []
    context.close()


def test_a_phrase_puts_the_matching_photos_first(page, served):
    _, _, truth = served
    page.fill("#query", micro_clip.CLASSES["red"][0])
    page.press("#query", "Enter")
    page.wait_for_selector("#results li")
    paths = page.eval_on_selector_all("#results li", "items => items.map(i => i.dataset.path)")
    assert paths and all(truth[path] == "red" for path in paths), paths


def test_an_image_dropped_on_the_page_finds_its_copy(page, served, tmp_path):
    _, base, truth = served
    copy = samples.jpeg_bytes(Image.open(base / "archive" / "blue_5.png").convert("RGB"), 85)
    page.evaluate(
        """async (encoded) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "copy.jpg", { type: "image/jpeg" }));
            document.getElementById("drop").dispatchEvent(
                new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
        }""",
        base64.b64encode(copy).decode(),
    )
    page.wait_for_selector("#results li")
    first = page.get_attribute("#results li", "data-path")
    group = {
        row["path"] for row in _duplicates(base / "run") if "blue_5.png" in row["members"]
    } or {"blue_5.png"}
    assert first in group | {"blue_5.png"}, (first, group)
    assert truth[first] == "blue"


def _duplicates(run: Path) -> list[dict]:
    import csv

    with (run / "duplicates.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    groups: dict[str, set[str]] = {}
    for row in rows:
        groups.setdefault(row["group"], set()).add(row["path"])
    return [{"path": path, "members": members} for members in groups.values() for path in members]


def test_the_cloud_has_a_point_per_photo_and_a_click_opens_that_photo(page, served):
    url = served[0]
    photos = json.loads(request(url, f"/api/info?token={token_of(url)}")[1])["photos"]
    page.wait_for_selector("body[data-cloud=ready]", timeout=240_000)
    assert page.evaluate("window.hygieneCloud.count") == photos
    assert "approximate" in page.text_content("#cloud-note")
    cloud = json.loads(request(url, f"/api/cloud?token={token_of(url)}")[1])
    screen = np.array(
        page.evaluate(
            "(n) => Array.from({length: n}, (_, i) => window.hygieneCloud.screenPosition(i))",
            photos,
        )
    )
    # the point farthest from any other on screen, so the click cannot mean another
    gaps = np.linalg.norm(screen[:, None] - screen[None], axis=2) + np.eye(photos) * 1e9
    chosen = int(np.argmax(gaps.min(axis=1)))
    page.mouse.click(*screen[chosen])
    page.wait_for_selector("#panel:not([hidden])")
    assert page.get_attribute("#panel", "data-path") == cloud["photos"][chosen]["path"]
    page.click("#panel-like")
    page.wait_for_selector("#results li")
    shown = page.eval_on_selector_all("#results li", "items => items.map(i => i.dataset.path)")
    assert cloud["photos"][chosen]["path"] not in shown


def test_the_layout_is_umap_with_a_fixed_seed_and_pca_for_a_handful():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 32))
    vectors = centres[np.repeat(np.arange(3), 20)] + 0.1 * rng.standard_normal((60, 32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    first, second = layout(vectors), layout(vectors)
    assert first.method == "umap" and first.positions.shape == (60, 3)
    assert np.array_equal(first.positions, second.positions)
    assert np.abs(first.positions).max() <= 1.0 + 1e-6
    # the three groups stay apart: each point's nearest neighbour is in its own group
    distances = np.linalg.norm(first.positions[:, None] - first.positions[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    assert (nearest // 20 == np.arange(60) // 20).all()
    few = layout(vectors[:5])
    assert few.method == "pca" and few.positions.shape == (5, 3)


def test_the_report_maps_the_cloud_layout_once_the_app_made_one(served, page):
    base = served[1]
    page.wait_for_selector("body[data-cloud=ready]", timeout=240_000)
    assert (base / "run" / "cloud3d.npz").is_file()
    result = run_hygiene("report", base / "run", "--catalog", base / "c.sqlite")
    assert result.returncode == 0, result.stderr
    meta = (base / "run" / "data" / "meta.js").read_text()
    assert '"mapMethod":"UMAP, first two of three axes"' in meta


def snapshot(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_an_edit_dry_run_apply_undo_round_trip_leaves_the_archive_as_it_was(page, served):
    base = served[1]
    root = base / "archive"
    before = snapshot(root)
    page.click("#review-link")
    page.wait_for_selector("#tabs button")
    page.click("#tabs button:has-text('Duplicates')")
    # the edit: keep one copy the plan would remove
    page.click("[data-path='red_1 copy.png'] button.toggle")
    page.click("#dry-run")
    page.wait_for_selector("body[data-review=dry-run]")
    planned = page.eval_on_selector_all(
        "#consequence-table tr.done td:first-child", "cells => cells.map(c => c.textContent)"
    )
    assert "blue_5 copy.png" in planned and "red_1 copy.png" not in planned, planned
    assert snapshot(root) == before  # a dry run changes nothing
    page.fill("#confirm", "yes")
    page.click("#apply")
    page.wait_for_selector("#consequence-status:has-text('to confirm')")
    assert snapshot(root) == before
    page.fill("#confirm", "apply")
    page.click("#apply")
    page.wait_for_selector("body[data-review=applied]")
    after = snapshot(root)
    assert "blue_5 copy.png" not in after and "red_1 copy.png" in after
    assert after[".hygiene-quarantine/blue_5 copy.png"] == before["blue_5 copy.png"]
    page.click("#undo")
    page.wait_for_selector("body[data-review=undone]")
    assert snapshot(root) == before


def test_the_review_endpoints_refuse_a_hostile_plan(served):
    url, base, _ = served
    token, origin = token_of(url), f"http://{urlsplit(url).netloc}"
    plan = json.loads((base / "run" / "plan.json").read_text())
    plan["actions"] = [
        {**plan["actions"][0], "source": "../outside.png"} if plan["actions"] else {}
    ]

    def post(step: str, body: object) -> tuple[int, dict]:
        status, answer, _ = request(
            url, f"/api/plan/{step}?token={token}", method="POST",
            body=json.dumps(body).encode(), headers={"Origin": origin},
        )  # fmt: skip
        return status, json.loads(answer)

    status, answer = post("dry-run", {"plan": plan})
    assert status == 400 and "refused" in answer["error"]
    status, answer = post("apply", {"plan": "../plan.json", "confirm": "apply"})
    assert status == 400 and "no such plan" in answer["error"]
    status, answer = post("apply", {"plan": "plan.json", "confirm": "apply"})
    assert status == 400 and "no such plan" in answer["error"]
    status, answer = post("undo", {"plan": "plan-app-0000000000000000.json"})
    assert status == 400
