"""The duplicate stage: exact and pixel copies, near-duplicate candidates confirmed on thumbnails,
keepers and groups.

candidates proposes pairs (nearsearch is its sub-quadratic hash search; fastdup_engine the
optional engine, whose fastdup_runner runs as a script in fastdup's own environment); verify
confirms them; keeper ranks copies; grouping builds groups and similar shots; stage runs it all.
"""

from hygiene.duplicates.fastdup_engine import FastdupUnavailable, fastdup_pairs, fastdup_python
from hygiene.duplicates.grouping import Member, QualityReader
from hygiene.duplicates.stage import DuplicateReport, find_duplicates

__all__ = [
    "DuplicateReport",
    "FastdupUnavailable",
    "Member",
    "QualityReader",
    "fastdup_pairs",
    "fastdup_python",
    "find_duplicates",
]
