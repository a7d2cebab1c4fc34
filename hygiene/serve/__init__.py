"""`hygiene serve`: a local web app over one run, for this machine only.

guard refuses what must never be served (another host name, no token, a climbing path, a
change from another origin) and sets the headers that keep pages local; app holds the routes
(search, the cloud, photos by entry number); cloud places the photos in 3D (UMAP, cached in the
run folder). The page and three.js are package data in assets/, so nothing is fetched from
elsewhere.
"""

from hygiene.serve.app import Session, make_app

__all__ = ["Session", "make_app"]
