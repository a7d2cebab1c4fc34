"""A scan prints only hygiene's own lines: what C decoders and model libraries say is captured (and
folded into the file's error or the model's reason when it adds something), never shown."""

from __future__ import annotations

import csv
import io
import json
import logging
import socket

import pytest
from PIL import Image

from hygiene.demo.samples import jpeg_bytes, photo
from tests.conftest import run_hygiene

LIBRARY_NOISE = (
    "Corrupt JPEG",
    "Premature end",
    "extraneous bytes",
    "TIFFRead",
    "TIFFFetch",
    "not yet in table",
    "LZWDecode",
    "tempfile.tif",
    "libpng",
    "ERROR:root",
    "Failed to download",
    "Traceback",
    "Warning",
)


def damaged_archive(root):
    root.mkdir()
    good = jpeg_bytes(photo(1, 800, 600), 90)
    (root / "fine.jpg").write_bytes(good)
    sos = good.index(b"\xff\xda")
    # cut in the middle of the entropy-coded data, with and without an end marker after it
    (root / "cut.jpg").write_bytes(good[: (sos + len(good)) // 2])
    (root / "cut_eoi.jpg").write_bytes(good[: (sos + len(good)) // 2] + b"\xff\xd9")
    # stray bytes before the end marker: libjpeg's "Corrupt JPEG data: N extraneous bytes"
    (root / "extraneous.jpg").write_bytes(good[:-2] + b"\x12\x34\x56\x78" + good[-2:])
    # damaged bytes inside the entropy-coded data
    damaged = bytearray(good)
    for i in range(sos + 3000, sos + 3400, 13):
        damaged[i] ^= 0x5A
    (root / "damaged.jpg").write_bytes(bytes(damaged))
    (root / "damaged_lzw.tif").write_bytes(damaged_lzw_tiff())
    buffer = io.BytesIO()
    photo(5, 300, 200).save(buffer, "PNG")
    (root / "cut.png").write_bytes(buffer.getvalue()[:-200])


def damaged_lzw_tiff() -> bytes:
    """An LZW TIFF with damaged strip data: libtiff prints "Using code not yet in table"."""
    buffer = io.BytesIO()
    photo(4, 240, 180).save(buffer, "TIFF", compression="tiff_lzw")
    data = bytearray(buffer.getvalue())
    with Image.open(io.BytesIO(bytes(data))) as img:
        start, length = img.tag_v2[273][0], img.tag_v2[279][0]
    for i in range(start + 16, start + length // 2, 37):
        data[i] ^= 0x55
    return bytes(data)


def test_scanning_damaged_files_prints_nothing_from_the_decoders(tmp_path):
    root = tmp_path / "archive"
    damaged_archive(root)
    out = tmp_path / "out"
    result = run_hygiene(
        "scan", root, "--out", out, "--catalog", tmp_path / "c.sqlite", "--quiet", "--no-clip"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    rows = {row["path"]: row for row in _rows(out)}
    assert rows["fine.jpg"]["status"] == "ok"
    tiff = rows["damaged_lzw.tif"]
    assert tiff["status"] == "corrupt"
    assert "(decoder said: Using code not yet in table)" in tiff["error"]
    for row in rows.values():
        assert "\n" not in row["error"] and len(row["error"]) < 600


def test_without_quiet_stderr_holds_only_hygienes_own_progress(tmp_path):
    root = tmp_path / "archive"
    damaged_archive(root)
    result = run_hygiene(
        "scan", root, "--out", tmp_path / "out", "--catalog", tmp_path / "c.sqlite", "--no-clip"
    )
    assert result.returncode == 0, result.stderr
    for noise in LIBRARY_NOISE:
        assert noise not in result.stderr, result.stderr


def test_missing_clip_weights_are_one_reason_not_library_logs(tmp_path, monkeypatch):
    for name in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)  # the test's private cache has no weights
    root = tmp_path / "archive"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg_bytes(photo(1, 320, 240)))
    out = tmp_path / "out"
    result = run_hygiene(
        "scan",
        root,
        "--out",
        out,
        "--catalog",
        tmp_path / "c.sqlite",
        "--quiet",
        "--model",
        "ViT-B-32:laion2b_s34b_b79k",
    )
    assert result.returncode == 0, result.stderr
    for noise in LIBRARY_NOISE:
        assert noise not in result.stderr, result.stderr
    assert result.stderr == "", result.stderr
    status = json.loads((out / "run.json").read_text())["categorization"]
    assert status["skipped"] is True
    assert status["status"].startswith(
        "skipped: cannot load weights for ViT-B-32:laion2b_s34b_b79k "
        "(not in the Hugging Face cache, and downloads are off)"
    )


def test_model_loading_is_offline_and_leaves_logging_as_it_was(tmp_path, monkeypatch, capfd):
    pytest.importorskip("open_clip")
    import huggingface_hub.constants

    from hygiene.categorize.embed import ModelUnavailable, load_model

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    # huggingface_hub was imported with downloads allowed: load_model must still stay offline
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    lookups: list[object] = []

    def no_network(*args, **kwargs):
        lookups.append(args[:2])
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    root = logging.getLogger()
    handlers = root.handlers[:]
    with pytest.raises(ModelUnavailable, match="downloads are off"):
        load_model("ViT-B-32:laion2b_s34b_b79k", "", "cpu", allow_download=False)
    assert lookups == []
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    assert root.handlers == handlers
    err = capfd.readouterr().err
    assert "Failed to download" not in err and "ERROR:root" not in err


def _rows(out):
    with (out / "images.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
