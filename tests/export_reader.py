"""An independent reader of siloscope's Parquet export (tests/export.rs): reads each file given with
pyarrow and prints, as one JSON object keyed by path, its column names, Arrow types and every row in
a canonical form: text as strings, integers and booleans as such, times as integers of their unit
(the type says which, e.g. timestamp[ms]), null as null. Nothing is converted through floats."""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def canonical(column):
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64())
    return column.to_pylist()


out = {}
for path in sys.argv[1:]:
    table = pq.read_table(path)
    columns = [canonical(c) for c in table.columns]
    out[path] = {
        "columns": table.column_names,
        "types": [str(f.type) for f in table.schema],
        "rows": [list(row) for row in zip(*columns)] if columns else [],
    }
json.dump(out, sys.stdout)
