"""callsync's pipelines: dlt loads into DuckDB, the SQL model runner and the CLI."""

import os

# pyarrow's default allocator keeps freed pages (about 100 MiB more peak RSS in a sync);
# set before pyarrow is first imported, and only where the user has not chosen one
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
