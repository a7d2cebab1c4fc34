"""What a run leaves behind: its folder and run.json (runs), the tables (CSV/Parquet) and the HTML
report (its page in report_assets/)."""

from hygiene.outputs.report import write_report
from hygiene.outputs.report_data import ReportData, read_report_data, run_report_data
from hygiene.outputs.runs import (
    RunFolderError,
    check_run_folder,
    new_run_id,
    prepare_run_folder,
    write_run_record,
)
from hygiene.outputs.tables import (
    DUPLICATES_COLUMNS,
    SIMILAR_COLUMNS,
    STATUSES,
    RunSummary,
    RunTables,
    duplicate_rows,
    similar_rows,
    write_outputs,
)

__all__ = [
    "DUPLICATES_COLUMNS",
    "SIMILAR_COLUMNS",
    "STATUSES",
    "ReportData",
    "RunFolderError",
    "RunSummary",
    "RunTables",
    "check_run_folder",
    "duplicate_rows",
    "new_run_id",
    "prepare_run_folder",
    "read_report_data",
    "run_report_data",
    "similar_rows",
    "write_outputs",
    "write_report",
    "write_run_record",
]
