"""Run the hygiene CLI with a kill point: `python -m tests.fault_hook KILL_AT COMMAND ARGS...`.

The KILL_AT-th journal write or file step of an apply or undo SIGKILLs the process, as a power
cut would (see hygiene.plan.journal.Faults). Production code has no switch for this; only this hook
installs it.
"""

from __future__ import annotations

import sys

from hygiene.cli import cli
from hygiene.plan import journal

if __name__ == "__main__":
    kill_at = int(sys.argv[1])
    journal.install_faults(lambda: journal.Faults(kill_at))
    cli(sys.argv[2:], prog_name="hygiene")
