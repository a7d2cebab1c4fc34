"""Scan one file's content in a worker: read once, hash, decode once, measure everything.

`scan_file` runs in worker processes; `WorkerSettings` reaches them through `init_worker`.
A file over the size or pixel cap is `unverified` (not checked, never cached by content, tried
again on the next run), not `corrupt`: only a file that is really broken is corrupt.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hygiene.records import FileEntry, ImageFacts, ScanOutcome
from hygiene.scan.formats import (
    IMAGE_EXTENSIONS,
    RAW_EXTENSIONS,
    SNIFF_BYTES,
    describe_non_image,
    sniff_image_format,
)
from hygiene.scan.hashing import (
    PixelBox,
    content_box,
    inside_box,
    near_hashes,
    sha256_hex,
    window_colours,
)
from hygiene.scan.imageio import (
    DecodeError,
    TooLargeToCheck,
    decode,
    downscale,
    encode_webp,
    reduced,
    scaled_in_decoder,
)
from hygiene.scan.native_stderr import native_stderr_captured, with_library_note
from hygiene.scan.quality import (
    QUALITY_SIDE_MIN_PX,
    QUALITY_SIDE_PX,
    colourfulness,
    grey_thumbnail,
    measure,
)

# Bump when what a scan stores changes; every cached result with another version is redone.
# 5: files over the size or pixel cap are no longer cached as corrupt; 6: directional sharpness
# and clipped-content measures; 7: crop-window hashes at 80% and 70% of each side; 8: the
# content box inside a padded border; 9: capture times with SubSecTimeOriginal's fraction;
# 10: hash windows area-averaged from one integral image, percentiles from a histogram, and
# no separate pHash and dHash (nothing read them; their catalog columns stay empty); 11: JPEGs
# measured at their DCT-scaled size when it is 480-512 px, WebP thumbnails at method 1; 12:
# thumbnails encoded at WebP method 0, colourfulness read from the thumbnail; 13: colour
# layouts of the hashed views (window_colours); 14: those layouts at 4x4 instead of 2x2.
FEATURE_VERSION = 14
_THUMBNAIL_QUALITY = 70


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    root: str
    max_pixels: int
    max_file_bytes: int
    thumbnail_px: int
    catalog_path: str

    @property
    def scan_key(self) -> str:
        return (
            f"v{FEATURE_VERSION}:px{self.max_pixels}:mb{self.max_file_bytes}:t{self.thumbnail_px}"
        )


@dataclass(frozen=True, slots=True)
class KnownContent:
    """The file's bytes were scanned before (under another name): reuse that result."""

    sha256: str


@dataclass(frozen=True, slots=True)
class FileVerdict:
    """An outcome that depends on the file, not only its bytes (its name, or the read failing)."""

    status: str
    error: str
    sha256: str | None = None


def _nothing_known(sha256: str) -> bool:
    return False


_settings: WorkerSettings | None = None
_known_content: Callable[[str], bool] = _nothing_known


def init_worker(
    settings: WorkerSettings, known_content: Callable[[str], bool] | None = None
) -> None:
    """`known_content(sha256)`: whether these bytes were scanned before under the same settings
    (the scan stage passes a catalog lookup); a worker then skips decoding them."""
    global _settings, _known_content
    _settings = settings
    if known_content is not None:
        _known_content = known_content
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _silence_stderr()
    import cv2

    cv2.setNumThreads(1)  # the pool already uses every core


def _silence_stderr() -> None:
    """C libraries write to file descriptor 2 directly. A worker's goes nowhere between files;
    while a file is scanned it goes to a scratch file (see scan_file), never to the terminal."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


def scan_file(entry: FileEntry) -> ScanOutcome | KnownContent | FileVerdict:
    """Scan one file; what the C libraries print meanwhile is kept out of the terminal, and
    added to the reason when the file turns out corrupt and it says more than the reason."""
    with native_stderr_captured() as said:
        result = _scan_file(entry)
    captured = "".join(said)
    if captured and isinstance(result, ScanOutcome | FileVerdict) and result.status == "corrupt":
        error = with_library_note(result.error or "", captured)
        if isinstance(result, ScanOutcome):
            return ScanOutcome(result.status, error, result.sha256, result.facts)
        return FileVerdict(result.status, error, result.sha256)
    return result


def _scan_file(entry: FileEntry) -> ScanOutcome | KnownContent | FileVerdict:
    settings = _settings
    assert settings is not None, "init_worker was not called"
    path = os.path.join(settings.root, entry.rel_path)
    extension = Path(entry.rel_path).suffix.lower()
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
            image_format = sniff_image_format(head)
            if not head:
                return _empty_file(extension)
            if image_format is None:
                verdict = _not_an_image(head, extension)
                if verdict.status == "corrupt":  # a plan may quarantine it: fingerprint it
                    verdict = FileVerdict(
                        verdict.status, verdict.error, _stream_sha256(handle, head)
                    )
                return verdict
            if image_format == "TIFF" and extension in RAW_EXTENSIONS:
                return FileVerdict("skipped", f"camera RAW ({extension}) is not decoded")
            size = os.fstat(handle.fileno()).st_size
            if size > settings.max_file_bytes:
                return FileVerdict(
                    "unverified",
                    f"not checked: {size / 2**20:,.1f} MiB exceeds the "
                    f"{settings.max_file_bytes / 2**20:,.0f} MiB file size cap "
                    "(raise scan.max_file_mb to check it)",
                    _stream_sha256(handle, head),
                )
            data = head + handle.read()
    except PermissionError:
        return FileVerdict("skipped", "permission denied: cannot read this file")
    except OSError as exc:
        return FileVerdict("skipped", f"cannot read this file: {exc.strerror or exc}")
    digest = sha256_hex(data)
    if _known_content(digest):
        return KnownContent(digest)
    return scan_bytes(data, image_format, digest, settings)


def scan_bytes(
    data: bytes, image_format: str, digest: str, settings: WorkerSettings
) -> ScanOutcome | FileVerdict:
    try:
        decoded = decode(
            data, image_format, max_pixels=settings.max_pixels, reduce_to_px=QUALITY_SIDE_MIN_PX
        )
    except TooLargeToCheck as exc:  # a FileVerdict: never cached by content, so tried again
        return FileVerdict("unverified", str(exc), digest)
    except DecodeError as exc:
        return ScanOutcome("corrupt", str(exc), digest)
    small = downscale(decoded.rgb, QUALITY_SIDE_PX)  # every measurement below starts here
    grey = grey_thumbnail(small)
    # bilinear: box-filtered thumbnails, a third cheaper, merged two different frames on
    # HELD-OUT (docs/benchmarks.md); the duplicate stage confirms pairs on these
    thumb = downscale(small, settings.thumbnail_px)
    colour_frame = np.asarray(reduced(thumb, 64))
    box_px = content_box(grey)
    content = _content(grey, box_px)
    box = (
        content["content_left"],
        content["content_top"],
        content["content_right"],
        content["content_bottom"],
    )
    facts = ImageFacts(
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        orientation=decoded.orientation,
        taken_at=decoded.taken_at,
        camera_model=decoded.camera_model,
        pixel_sha256=None,  # full-resolution pixel hashes are computed by the duplicate stage,
        # and only for the few files whose grouping needs one
        near_hashes=near_hashes(grey, box_px).tobytes(),
        window_colours=window_colours(inside_box(colour_frame, box, min_side_px=2)).tobytes(),
        colourfulness=colourfulness(colour_frame.astype(np.float32) / 255.0),
        **content,
        quality=measure(grey, box_px),
        thumbnail_webp=encode_webp(thumb, quality=_THUMBNAIL_QUALITY),
    )
    if decoded.damage:
        reason = f"damaged but complete: {decoded.damage}; hygiene repair can write a clean copy"
        return ScanOutcome("damaged", reason, digest, facts)
    return ScanOutcome("ok", None, digest, facts)


def reduced_in_decoder(facts: ImageFacts) -> bool:
    """Whether the scan had this image reduced by the JPEG decoder rather than resized after a
    full decode. Identical pixels give identical thumbnails only when both took the same way."""
    return scaled_in_decoder(facts.format, facts.width, facts.height, QUALITY_SIDE_MIN_PX)


def _content(grey: np.ndarray, box_px: PixelBox) -> dict[str, float]:
    """The content inside any padded border: its share of the frame and its box (fractions)."""
    left, top, right, bottom = box_px
    height, width = grey.shape
    return {
        "content_fraction": (right - left) * (bottom - top) / grey.size,
        "content_left": left / width,
        "content_top": top / height,
        "content_right": right / width,
        "content_bottom": bottom / height,
    }


def _empty_file(extension: str) -> FileVerdict:
    if extension in IMAGE_EXTENSIONS:
        return FileVerdict("corrupt", "empty file (0 bytes)", hashlib.sha256(b"").hexdigest())
    return FileVerdict("skipped", "empty file (0 bytes)")


def _not_an_image(head: bytes, extension: str) -> FileVerdict:
    what = describe_non_image(head)
    if extension in IMAGE_EXTENSIONS:
        return FileVerdict("corrupt", f"not an image: the content is {what}")
    return FileVerdict("skipped", f"not an image ({what})")


def _stream_sha256(handle: BinaryIO, head: bytes) -> str:
    digest = hashlib.sha256(head)
    while chunk := handle.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()
