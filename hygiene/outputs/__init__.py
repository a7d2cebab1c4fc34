"""What a run leaves behind: its folder and run.json, the tables (CSV/Parquet), the HTML report."""
