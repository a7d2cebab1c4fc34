"""The plan and what acts on it: pure decisions -> plan.json; apply, repair and undo (the only code
that changes user files), journaled."""
