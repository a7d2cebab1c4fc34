"""The Ray engine (`hygiene scan --engine ray`): the scan and CLIP embedding stages run on a Ray
cluster, every node writing into one shared PostgreSQL catalog; duplicates, plan, report and
search run on the driver from that catalog, as with the local engine.

Ray is an optional dependency (`pip install 'photo-hygiene[ray]'`), imported only here.
"""

from hygiene.cluster.session import ClusterError, ClusterSession, failure

__all__ = ["ClusterError", "ClusterSession", "failure"]
