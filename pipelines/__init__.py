"""callsync's pipelines: dlt loads into DuckDB, the SQL model runner and the CLI."""
