"""Search a run's photos by a typed phrase, an image, or another photo, over the CLIP embeddings
the categorize stage stored in the catalog.

index keeps each archive's vectors beside the catalog (exact, or an HNSW graph when large);
library loads what a run can search (one entry per embedded photo, its metadata and index row);
rank scores a query vector against it and keeps what stands out; query turns a phrase or an
image file into a vector with the run's own model.
"""

from hygiene.search.library import (
    Library,
    Searchable,
    SearchError,
    open_library,
    sync_run_index,
)
from hygiene.search.query import image_vector, text_vector
from hygiene.search.rank import Hit, Ranking, rank

__all__ = [
    "Hit",
    "Library",
    "Ranking",
    "SearchError",
    "Searchable",
    "image_vector",
    "open_library",
    "rank",
    "sync_run_index",
    "text_vector",
]
