"""The demo and test archives: a seeded generator of photo archives with known ground truth
(samples), built from procedural and real photos and hostile files (sample_images)."""

from hygiene.demo.samples import build_sample_archive

__all__ = ["build_sample_archive"]
