"""An independent reader of siloscope's Parquet export (tests/export.rs): prints the file's row
count, column names and item column as JSON, read by pyarrow."""
import json
import sys

import pyarrow.parquet as pq

table = pq.read_table(sys.argv[1])
print(json.dumps({"rows": table.num_rows, "columns": table.column_names, "item": table.column("item").to_pylist()}))
