"""The HTML report in a real headless browser (Playwright driving Debian's chromium)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from hygiene.demo.samples import build_sample_archive, jpeg_bytes, photo
from hygiene.plan.decisions import parse_plan
from tests.conftest import CHROMIUM, chromium_browser, run_hygiene

HOSTILE = "<img src=x onerror=alert(1)>.jpg"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    root = base / "archive"
    build_sample_archive(root, seed=2, photos=4, scale=0.4)
    (root / HOSTILE).write_bytes(jpeg_bytes(photo(77, 300, 200)))
    result = run_hygiene(
        "scan", root, "--out", base / "run", "--catalog", base / "c.sqlite", "--quiet", "--no-clip"
    )
    assert result.returncode == 0, result.stderr
    return base / "run"


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser, run_dir):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("dialog", lambda d: (page.problems.append("dialog: " + d.message), d.dismiss()))
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(("file:", "blob:", "data:"))
            else page.problems.append("request: " + r.url)
        ),
    )
    page.goto((run_dir / "index.html").as_uri())
    page.wait_for_selector("[data-stat=files]")
    yield page
    context.close()


def test_page_loads_offline_without_errors_and_counts_match(page, run_dir):
    images = pd.read_csv(run_dir / "images.csv", keep_default_na=False)
    shown = {
        key: page.inner_text(f"[data-stat={key}] b")
        for key in ("files", "ok", "corrupt", "skipped")
    }
    assert shown == {
        "files": str(len(images)),
        "ok": str(images["status"].isin(["ok", "damaged"]).sum()),
        "corrupt": str((images["status"] == "corrupt").sum()),
        "skipped": str((images["status"] == "skipped").sum()),
    }
    # a --no-clip run says why there are no categories instead of drawing empty charts
    assert "--no-clip was given" in page.inner_text("[data-notice=categories]")
    for tab in ("Duplicates", "Similar shots", "Corrupt", "Quality", "Categories", "Map"):
        page.click(f"nav >> text={tab}")
    assert page.problems == []


def test_thumbnails_render(page):
    page.click("nav >> text=Duplicates")
    page.wait_for_selector(".group img")
    page.wait_for_function(
        "[...document.querySelectorAll('.group img')].slice(0, 6)"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.eval_on_selector_all(".group img", "imgs => imgs.length") > 3


def test_hostile_file_name_is_shown_as_text_and_runs_nothing(page):
    page.click("nav >> text=Quality")
    assert page.locator(f"text={HOSTILE}").count() >= 1
    assert page.eval_on_selector_all("img[src='x']", "imgs => imgs.length") == 0
    assert page.problems == []


def test_exported_plan_passes_apply_and_changes_only_the_edit(page, run_dir, tmp_path):
    page.click("nav >> text=Duplicates")
    card = page.locator(".card:has(button.toggle)").first
    flipped = card.locator(".path").inner_text()
    card.locator("button.toggle").click()
    with page.expect_download() as download:
        page.click("#export")
    edited_dir = tmp_path / "edited"
    edited_dir.mkdir()
    download.value.save_as(edited_dir / "plan.json")
    result = run_hygiene("apply", edited_dir / "plan.json")
    assert result.returncode == 0, result.stderr
    original = parse_plan((run_dir / "plan.json").read_text())
    edited = parse_plan((edited_dir / "plan.json").read_text())
    assert edited.header == original.header
    expected = [replace(a, id=0) for a in original.actions if a.source != flipped]
    assert [replace(a, id=0) for a in edited.actions] == expected
    assert any(a.source == flipped and a.kind == "delete" for a in original.actions)


def test_report_command_regenerates_the_page(run_dir):
    (run_dir / "index.html").unlink()
    result = run_hygiene("report", run_dir)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "index.html").is_file() and (run_dir / "data" / "meta.js").is_file()
    broken = run_hygiene("report", run_dir / "data")
    assert broken.returncode == 2 and "not a hygiene run folder" in broken.stderr


def test_categories_and_embedding_map_render_with_a_real_clip_run(browser, tmp_path):
    """With categorization on (a micro CLIP trained by the tests), the Categories and Map tabs
    show every categorized image; the same page checks as above apply."""

    from tests import micro_clip
    from tests.test_categorize import CONFIG

    model = micro_clip.train(tmp_path / "model")
    root = tmp_path / "archive"
    micro_clip.write_archive(root, per_class=3, seed=3)
    config = tmp_path / "clip.toml"
    config.write_text(CONFIG)
    result = run_hygiene(
        "scan",
        root,
        "--out",
        tmp_path / "run",
        "--catalog",
        tmp_path / "c.sqlite",
        "--quiet",
        "--config",
        config,
        "--model-path",
        model,
    )
    assert result.returncode == 0, result.stderr
    embedded = len(pd.read_parquet(tmp_path / "run" / "embeddings.parquet"))
    page = browser.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto((tmp_path / "run" / "index.html").as_uri())
    page.wait_for_selector("[data-stat=files]")
    assert page.locator("[data-notice=categories]").count() == 0
    page.click("nav >> text=Map")
    assert page.eval_on_selector_all("svg.map circle", "c => c.length") == embedded
    page.dispatch_event("svg.map circle >> nth=0", "mouseenter")
    assert page.is_visible("#tooltip")
    page.click("nav >> text=Categories")
    assert page.locator("section.group h3").count() >= 2
    assert problems == []
    page.close()


def test_a_protected_copy_cannot_be_marked_for_removal_in_the_page(browser, tmp_path):
    root = tmp_path / "archive"
    build_sample_archive(root, seed=2, photos=4, scale=0.4)
    config = tmp_path / "protect.toml"
    config.write_text(f'[duplicates]\nprotected_roots = ["{root}/WhatsApp"]\n')
    result = run_hygiene(
        "scan",
        root,
        "--out",
        tmp_path / "run",
        "--catalog",
        tmp_path / "c.sqlite",
        "--quiet",
        "--no-clip",
        "--config",
        config,
    )
    assert result.returncode == 0, result.stderr
    page = browser.new_page()
    page.goto((tmp_path / "run" / "index.html").as_uri())
    page.wait_for_selector("[data-stat=files]")
    page.click("nav >> text=Duplicates")
    cards = page.locator(".card[data-path^='WhatsApp/']")
    assert cards.count() >= 2
    for index in range(cards.count()):
        card = cards.nth(index)
        assert card.locator("button.toggle").count() == 0
        assert "protected folder" in card.inner_text()
    page.close()
