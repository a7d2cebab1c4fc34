"""Joining (or starting) the Ray cluster a run uses, with Ray's usage reporting off."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


class ClusterError(RuntimeError):
    """The cluster cannot be used; str() is one line."""


@dataclass
class ClusterSession:
    """Where the run's Ray work goes. `address`: None starts a local Ray instance (bound to
    127.0.0.1, `workers` CPUs); "auto" or ray://HOST:PORT joins a running cluster."""

    address: str | None
    workers: int
    _saved_stderr: tuple[int, TextIO] | None = None

    def start(self, log_path: Path) -> None:
        """Join the cluster; what Ray's C++ core prints meanwhile goes to `log_path` (the run
        folder's ray.log), not the terminal."""
        # Ray reports usage to its authors unless told not to; hygiene sends nothing anywhere.
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        self._native_stderr_to(log_path)
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
                elif _on_loopback(self.address):  # a cluster bound to this machine alone
                    ray.init(address=self.address, _node_ip_address="127.0.0.1", **options)
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
        """Leave the cluster (a local instance stops) and give fd 2 back to the terminal; safe
        after a start that failed part way."""
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():
            ray.shutdown()
        if self._saved_stderr is not None:
            saved_fd, saved_stream = self._saved_stderr
            replacement, sys.stderr = sys.stderr, saved_stream
            replacement.close()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            self._saved_stderr = None

    def _native_stderr_to(self, log_path: Path) -> None:
        """Ray's C++ core writes to file descriptor 2 from its own threads (an error-level line
        each time Ray Data starts actors, ray-project/ray#53727, and connection retries), which
        would garble the progress bars; failures that matter reach the run as exceptions. So
        fd 2 goes to the log file, and Python's sys.stderr (the progress bars, the one-line
        errors) keeps the terminal."""
        if self._saved_stderr is not None:
            return
        sys.stderr.flush()
        terminal = os.dup(2)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        os.close(log)
        self._saved_stderr = (os.dup(terminal), sys.stderr)
        sys.stderr = open(terminal, "w", buffering=1, errors="backslashreplace")  # noqa: SIM115


def _on_loopback(address: str) -> bool:
    """A head node's address (not a Ray Client ray:// one) on this machine's loopback: the
    driver must then join as a node at 127.0.0.1 too, not at its own network address."""
    if address.startswith("ray://"):
        return False
    host = address.rpartition(":")[0] or address
    return host in ("127.0.0.1", "localhost")


def failure(exc: BaseException) -> ClusterError | None:
    """The one-line ClusterError for an exception that came out of Ray (a batch or an actor
    that failed for good, a lost connection to the cluster), naming the innermost cause Ray
    wrapped; None for any other exception."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 20:
        chain.append(current)
        wrapped = getattr(current, "cause", None)  # a RayTaskError's original exception
        current = wrapped if isinstance(wrapped, BaseException) else _cause(current)
    if not any(type(e).__module__.split(".")[0] == "ray" for e in chain):
        return None
    inner = chain[-1]
    lines = [line.strip() for line in str(inner).splitlines() if line.strip()]
    reason = f"{type(inner).__name__}: {lines[0]}" if lines else type(inner).__name__
    return ClusterError(f"the cluster's work failed: {reason[:300]}")


def _cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
