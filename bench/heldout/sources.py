"""Where the real photos come from, and which split each source feeds.

Real photos come from two places only: the sample photos shipped inside the scikit-image and
scikit-learn wheels (already in .venv), and Debian packages fetched with `apt-get download` and
unpacked with `dpkg -x`. Each picked file carries its hand-made ground truth (class, flags).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

# The split, by source. Fixed before any figure was computed. TUNING holds every source that the
# project's tests and earlier tuning already touched (the scikit-image / scikit-learn samples) plus
# two Debian packages; HELD-OUT holds sources nothing in the project has looked at. The held-out
# figures must never be used to choose a threshold, a rule or a constant: tune on TUNING, then
# read HELD-OUT once.
SPLIT_SOURCES: dict[str, tuple[str, ...]] = {
    "tuning": ("scikit-image", "scikit-learn", "lxqt-themes", "hugin-data"),
    "heldout": ("opencv-doc", "tuxmath-data"),
}

# The Debian packages, with the version the recorded figures were made with (bookworm). Another
# version is used if apt offers another, with a warning: figures are then not comparable.
DEBIAN_VERSIONS: dict[str, str] = {
    "lxqt-themes": "1.2.0-1",
    "hugin-data": "2022.0.0+dfsg-2",
    "opencv-doc": "4.6.0+dfsg-12",
    "tuxmath-data": "2.0.3-9",
}

# Never used here: reserved for the project's external evaluation.
RESERVED_PACKAGES = (
    "stellarium-data",
    "kstars-data",
    "gimp-help-en",
    "debian-handbook",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers-*",
    "desktop-base",
    "palapeli-data",
)

# Left out as ambiguous ground truth (is a soft microscopy image "blurry"?): scikit-image cell.png.
MAX_SIDE_PX = 1600  # originals are downscaled to this long side when the corpus is built

PACKAGE_ROOTS: dict[str, str] = {
    "lxqt-themes": "usr/share/lxqt/wallpapers",
    "hugin-data": "usr/share/hugin/xrc/data/help_en_EN",
    "opencv-doc": "usr/share/doc/opencv-doc/examples",
    "tuxmath-data": "usr/share/tuxmath/images",
}


@dataclass(frozen=True)
class Pick:
    """One real file and what it is. `use`: normal (gets every derived copy), special (only
    itself: its class is not an ordinary photo) or burst_source (only two burst frames cut from
    it; the file itself is not in the corpus)."""

    source: str
    member: str
    klass: str = "photo"
    flags: tuple[str, ...] = ()
    use: str = "normal"
    burst_with: str = ""  # member of the other frame of a real burst (same source)

    @property
    def original_id(self) -> str:
        stem = Path(self.member).stem.replace(" ", "_")
        return f"{self.source}:{stem}"


def _normal(source: str, *members: str) -> list[Pick]:
    return [Pick(source, member) for member in members]


def _pair(source: str, first: str, second: str) -> list[Pick]:
    return [Pick(source, first, burst_with=second), Pick(source, second, burst_with=first)]


TUNING_PICKS: list[Pick] = [
    *_normal(
        "scikit-image",
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
        "rocket.jpg",
        "grass.png",
        "gravel.png",
        "brick.png",
        "coins.png",
        "camera.png",
        "ihc.png",
        "moon.png",
    ),
    *_pair("scikit-image", "motorcycle_left.png", "motorcycle_right.png"),
    Pick("scikit-image", "hubble_deep_field.jpg", "star_field", use="special"),
    Pick("scikit-image", "retina.jpg", "black_subject", use="special"),
    Pick("scikit-image", "page.png", "document", use="special"),
    Pick("scikit-image", "text.png", "document", use="special"),
    Pick("scikit-image", "clock_motion.png", "motion_blur", ("blurry",), use="special"),
    *_normal("scikit-learn", "china.jpg", "flower.jpg"),
    *_normal(
        "lxqt-themes",
        "Butterfly-Kenneth-Wimer.jpg",
        "Valendas.png",
        "after-the-rain.jpg",
        "beam.png",
        "cloud.png",
        "drop.png",
        "fog.jpg",
        "this-is-not-windows.jpg",
    ),
    Pick("lxqt-themes", "appleflower.png", use="burst_source"),
    Pick("lxqt-themes", "butterfly.png", use="burst_source"),
    Pick("lxqt-themes", "flowers.png", use="burst_source"),
    *_normal(
        "hugin-data",
        "CA_fringes00.jpg",
        "CA_tCA00.jpg",
        "800px-C_Marchi-GrandCentral-adj.jpg",
        "Medinet_habu_horizontal_fisheye.jpg",
    ),
]

HELDOUT_PICKS: list[Pick] = [
    *_normal(
        "opencv-doc",
        "data/box.png",
        "data/box_in_scene.png",
        "data/board.jpg",
        "data/building.jpg",
        "data/home.jpg",
        "data/fruits.jpg",
        "data/apple.jpg",
        "data/orange.jpg",
        "data/baboon.jpg",
        "data/butterfly.jpg",
        "data/chicky_512.png",
        "data/messi5.jpg",
        "data/squirrel_cls.jpg",
        "data/ela_original.jpg",
        "data/stuff.jpg",
        *(f"text/scenetext0{i}.jpg" for i in range(1, 7)),
    ),
    *_pair("opencv-doc", "data/basketball1.png", "data/basketball2.png"),
    *_pair("opencv-doc", "data/rubberwhale1.png", "data/rubberwhale2.png"),
    *_pair("opencv-doc", "data/aloeL.jpg", "data/aloeR.jpg"),
    *_pair("opencv-doc", "data/leuvenA.jpg", "data/leuvenB.jpg"),
    *_pair("opencv-doc", "data/graf1.png", "data/graf3.png"),
    *_pair("opencv-doc", "data/aero1.jpg", "data/aero3.jpg"),
    *_pair("opencv-doc", "data/left01.jpg", "data/left02.jpg"),
    *_pair("opencv-doc", "data/left.jpg", "data/right.jpg"),
    Pick("opencv-doc", "data/sudoku.png", "document", use="special"),
    Pick("opencv-doc", "data/imageTextN.png", "document", use="special"),
    Pick("opencv-doc", "data/text_defocus.jpg", "defocus", ("blurry",), use="special"),
    Pick("opencv-doc", "data/text_motion.jpg", "motion_blur", ("blurry",), use="special"),
    Pick("opencv-doc", "data/licenseplate_motion.jpg", "motion_blur", ("blurry",), use="special"),
    *(Pick("tuxmath-data", f"backgrounds/{i}.jpg", "star_field", use="special") for i in range(8)),
    Pick("tuxmath-data", "title/menu_bkg.jpg", "black_subject", use="special"),
]

PICKS: dict[str, list[Pick]] = {"tuning": TUNING_PICKS, "heldout": HELDOUT_PICKS}


def check_split() -> None:
    """Every pick's source belongs to its split, and no source feeds both splits."""
    tuning, heldout = set(SPLIT_SOURCES["tuning"]), set(SPLIT_SOURCES["heldout"])
    assert not tuning & heldout, "a source feeds both splits"
    assert not set(DEBIAN_VERSIONS) & set(RESERVED_PACKAGES), "a reserved package is used"
    for split, picks in PICKS.items():
        stray = {p.source for p in picks} - set(SPLIT_SOURCES[split])
        assert not stray, f"{split} picks from {stray}"


# ---------------------------------------------------------------- fetching


def _run(command: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def fetch_packages(download_dir: Path, sources_dir: Path) -> dict[str, str]:
    """apt-get download each package, dpkg -x it, keep only the picked files; return versions."""
    download_dir.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str] = {}
    members = _picked_members()
    for package in DEBIAN_VERSIONS:
        for stale in download_dir.glob(f"{package}_*.deb"):
            stale.unlink()
        _run(["apt-get", "download", package], cwd=download_dir)
        deb = next(download_dir.glob(f"{package}_*.deb"))
        versions[package] = _run(["dpkg-deb", "-f", str(deb), "Version"])
        with tempfile.TemporaryDirectory(prefix="heldout-unpack-") as unpacked:
            _run(["dpkg", "-x", str(deb), unpacked])
            root = Path(unpacked) / PACKAGE_ROOTS[package]
            for member in members.get(package, []):
                target = sources_dir / package / member
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / member, target)
    (sources_dir / "versions.json").write_text(json.dumps(versions, indent=1))
    return versions


def _picked_members() -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for picks in PICKS.values():
        for pick in picks:
            members.setdefault(pick.source, []).append(pick.member)
    return members


def source_versions(sources_dir: Path) -> dict[str, str]:
    """Versions of every source: the Debian packages as fetched, the wheels as installed."""
    import skimage
    import sklearn

    versions = json.loads((sources_dir / "versions.json").read_text())
    versions["scikit-image"] = f"{skimage.__version__} (wheel)"
    versions["scikit-learn"] = f"{sklearn.__version__} (wheel)"
    return versions


def version_warnings(versions: dict[str, str]) -> list[str]:
    return [
        f"{name} is {versions.get(name)}, the recorded figures used {wanted}"
        for name, wanted in DEBIAN_VERSIONS.items()
        if versions.get(name) != wanted
    ]


def source_path(pick: Pick, sources_dir: Path) -> Path:
    if pick.source == "scikit-image":
        import skimage

        return Path(skimage.__file__).parent / "data" / pick.member
    if pick.source == "scikit-learn":
        import sklearn

        return Path(sklearn.__file__).parent / "datasets" / "images" / pick.member
    return sources_dir / pick.source / pick.member


def load(pick: Pick, sources_dir: Path) -> Image.Image:
    """The picked photo as RGB, its long side at most MAX_SIDE_PX."""
    with Image.open(source_path(pick, sources_dir)) as opened:
        image = opened.convert("RGB")
    scale = MAX_SIDE_PX / max(image.size)
    if scale < 1:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image
