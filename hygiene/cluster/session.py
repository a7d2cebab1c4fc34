"""Joining (or starting) the Ray cluster a run uses, with Ray's usage reporting off."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass


class ClusterError(RuntimeError):
    """The cluster cannot be used; str() is one line."""


@dataclass(frozen=True)
class ClusterSession:
    """Where the run's Ray work goes. `address`: None starts a local Ray instance (bound to
    127.0.0.1, `workers` CPUs); "auto" or ray://HOST:PORT joins a running cluster."""

    address: str | None
    workers: int

    def start(self) -> None:
        # Ray reports usage to its authors unless told not to; hygiene sends nothing anywhere.
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        try:
            import ray
            import ray.data
        except ImportError:
            raise ClusterError("--engine ray needs Ray: pip install 'photo-hygiene[ray]'") from None
        if not ray.is_initialized():
            options = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.ERROR,
            }
            # Ray's notices (token authentication, progress bars off, datasets finished) are
            # not the user's business; the run reports its own progress and errors.
            for name in ("ray", "ray.data"):
                logging.getLogger(name).setLevel(logging.ERROR)
            try:
                if self.address is None:
                    ray.init(num_cpus=self.workers, _node_ip_address="127.0.0.1", **options)
                else:
                    ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local Ray instance"
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise ClusterError(f"cannot start or reach {where}: {reason}") from None
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the run shows its own, one per stage
        context.print_on_execution_start = False

    def stop(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()
