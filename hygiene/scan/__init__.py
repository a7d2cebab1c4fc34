"""The scan stage: walk the root, read each file once, decode once, hash and measure.

discover walks; formats sniffs and checks containers; imageio is the one module that opens
images; hashing and quality are pure measures; measure is a worker's per-file job, run in the
supervised pool of workers; stage ties them to the catalog.
"""

from hygiene.scan.formats import SNIFF_BYTES, repaired_container, sniff_image_format
from hygiene.scan.hashing import CENTRE_BAND_SLOT, DIHEDRAL, pixel_sha256_hex
from hygiene.scan.imageio import DecodeError, decode, decode_thumbnail
from hygiene.scan.measure import reduced_in_decoder
from hygiene.scan.quality import flag_columns
from hygiene.scan.stage import ProgressSink, ScanStats, run_scan

__all__ = [
    "CENTRE_BAND_SLOT",
    "DIHEDRAL",
    "SNIFF_BYTES",
    "DecodeError",
    "ProgressSink",
    "ScanStats",
    "decode",
    "decode_thumbnail",
    "flag_columns",
    "pixel_sha256_hex",
    "reduced_in_decoder",
    "repaired_container",
    "run_scan",
    "sniff_image_format",
]
