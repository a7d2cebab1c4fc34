"""Damaged but complete is not corrupt: every pixel decodes, only the container's end is broken.

Such files get their own status, are never planned for removal, and `hygiene repair` (or apply)
writes a clean copy in their place with the same pixels and metadata, keeping the original in
quarantine; undo puts the original back.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from hygiene.demo.samples import jpeg_bytes, photo
from hygiene.scan.formats import check_structure, repaired_container
from hygiene.scan.imageio import DecodeError, decode
from tests.conftest import run_hygiene


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _progressive(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, progressive=True)
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


IMAGE = photo(21, 480, 360)
JPEG = jpeg_bytes(IMAGE, 90)
PNG = _png(IMAGE)
PNG_BODY = PNG[: PNG.rindex(b"IEND") - 4]
BROKEN_TEXT = _chunk(b"tEXt", b"Comment\x00hello")[:-1] + b"\x00"


@pytest.mark.parametrize(
    "name,data,fmt,clean",
    [
        ("JPEG without its end marker", JPEG[:-2], "JPEG", JPEG),
        ("JPEG cut inside its end marker", JPEG[:-1], "JPEG", JPEG),
        ("PNG without IEND", PNG_BODY, "PNG", PNG),
        ("PNG with junk after the image data", PNG_BODY + b"junk", "PNG", PNG),
        ("PNG with a broken chunk after IDAT", PNG_BODY + BROKEN_TEXT + PNG[-12:], "PNG", PNG),
    ],
)
def test_a_whole_image_with_a_broken_end_is_damaged_and_repairs_to_its_original_bytes(
    name, data, fmt, clean
):
    decoded = decode(data, fmt, max_pixels=10**8, reduce_to_px=64)
    assert decoded.damage, name
    repair = repaired_container(fmt, data)
    assert repair is not None and repair.fixed == clean
    check_structure(fmt, repair.fixed)  # sound


@pytest.mark.parametrize(
    "name,data,fmt",
    [
        ("JPEG cut in its image data", JPEG[: len(JPEG) * 2 // 3], "JPEG"),
        ("progressive JPEG without its end marker", _progressive(IMAGE)[:-2], "JPEG"),
        ("PNG cut in its image data", PNG[: len(PNG) - 400], "PNG"),
        ("JPEG cut in its headers", JPEG[:300], "JPEG"),
        (
            "JPEG cut in its image data, end marker added",
            JPEG[: len(JPEG) // 2] + b"\xff\xd9",
            "JPEG",
        ),
    ],
)
def test_missing_image_data_stays_corrupt(name, data, fmt):
    with pytest.raises(DecodeError):
        decode(data, fmt, max_pixels=10**8, reduce_to_px=64)


@pytest.fixture
def damaged_archive(tmp_path: Path, scan):
    root = tmp_path / "archive"
    root.mkdir()
    (root / "IMG_0001.jpg").write_bytes(JPEG[:-2])
    (root / "scan.png").write_bytes(PNG_BODY)
    (root / "truncated.jpg").write_bytes(JPEG[: len(JPEG) // 2])
    (root / "fine.jpg").write_bytes(jpeg_bytes(photo(22, 480, 360)))
    run = scan(root, catalog=tmp_path / "catalog.sqlite")
    return root, run


def test_damaged_files_get_their_own_status_and_a_repair_never_a_removal(damaged_archive):
    _, run = damaged_archive
    rows = {row["path"]: row for row in run.rows}
    assert rows["IMG_0001.jpg"]["status"] == "damaged"
    assert rows["scan.png"]["status"] == "damaged"
    assert "damaged but complete" in rows["IMG_0001.jpg"]["error"]
    assert rows["IMG_0001.jpg"]["width"] == "480"  # measured like any readable image
    assert rows["truncated.jpg"]["status"] == "corrupt"
    actions = {a["source"]: a for a in json.loads((run.out / "plan.json").read_text())["actions"]}
    assert actions["IMG_0001.jpg"]["kind"] == "repair"
    assert actions["scan.png"]["kind"] == "repair"
    assert actions["truncated.jpg"]["kind"] == "quarantine"
    assert rows["IMG_0001.jpg"]["action"] == "repair"
    assert run.record["by_status"]["damaged"] == 2


def test_repair_writes_a_clean_copy_keeps_the_original_and_undo_puts_it_back(damaged_archive):
    root, run = damaged_archive
    original = root / "IMG_0001.jpg"
    before = (original.read_bytes(), original.stat().st_mtime_ns)
    dry = run_hygiene("repair", run.out)
    assert dry.returncode == 0 and "dry run" in dry.stdout
    assert original.read_bytes() == before[0]

    result = run_hygiene("repair", run.out, "--execute")
    assert result.returncode == 0, result.stderr
    assert original.read_bytes() == JPEG  # the clean copy: the same bytes plus the end marker
    assert original.stat().st_mtime_ns == before[1]
    assert (root / ".hygiene-quarantine/IMG_0001.jpg").read_bytes() == before[0]
    assert (root / "scan.png").read_bytes() == PNG
    assert (root / "truncated.jpg").exists()  # repair does nothing else in the plan

    undone = run_hygiene("undo", run.out, "--execute")
    assert undone.returncode == 0, undone.stderr
    assert (original.read_bytes(), original.stat().st_mtime_ns) == before
    assert (root / "scan.png").read_bytes() == PNG_BODY
    assert not (root / ".hygiene-quarantine/IMG_0001.jpg").exists()


def test_a_file_no_longer_damaged_is_not_repaired(damaged_archive):
    root, run = damaged_archive
    plan = json.loads((run.out / "plan.json").read_text())
    action = next(a for a in plan["actions"] if a["kind"] == "repair")
    fine = root / "fine.jpg"
    info = fine.stat()
    action.update(
        source="fine.jpg",
        destination=".hygiene-quarantine/fine.jpg",
        fingerprint={
            "size_bytes": info.st_size,
            "mtime_ns": info.st_mtime_ns,
            "sha256": hashlib.sha256(fine.read_bytes()).hexdigest(),
        },
    )
    (run.out / "plan.json").write_text(json.dumps(plan))
    result = run_hygiene("repair", run.out, "--execute")
    assert "nothing to repair" in result.stdout
    assert not (root / ".hygiene-quarantine/fine.jpg").exists()


def test_a_letterboxed_photo_with_flat_edges_is_still_ok():
    """Flat edge lines only make hygiene ask libjpeg whether scan data is missing; it is not."""
    framed = Image.new("RGB", (480, 400), (0, 0, 0))
    framed.paste(IMAGE.resize((480, 300)), (0, 50))
    decoded = decode(jpeg_bytes(framed, 90), "JPEG", max_pixels=10**8, reduce_to_px=64)
    assert decoded.damage is None and decoded.width == 480
