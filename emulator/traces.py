"""Columnar traces: rows appended per decision period, written incrementally as Parquet row groups.

Every column carries its documentation as Parquet field metadata — b"unit", b"description",
b"source" — from the data dictionary (`FIELDS`: the built-in tables of emulator.trace_fields, plus
whatever `register_fields` adds), so a trace explains itself to whoever opens it:
`pyarrow.parquet.read_schema(path).field("load").metadata`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emulator.trace_fields import BUILTIN, FieldDoc

# table name → column → FieldDoc; the data dictionary the writers attach to each Parquet field.
FIELDS: dict[str, dict[str, FieldDoc]] = {name: dict(cols) for name, cols in BUILTIN.items()}
METADATA_KEYS = (b"unit", b"description", b"source")


def register_fields(table: str, fields: Mapping[str, FieldDoc | tuple]) -> None:
    """Add (or replace) the documentation of `table`'s columns: {column: FieldDoc(unit, description,
    source[, dtype])}; call it before the table's first rows are written."""
    FIELDS.setdefault(table, {}).update({k: FieldDoc(*v) for k, v in fields.items()})


def field_metadata(doc: FieldDoc) -> dict[bytes, bytes]:
    """The Parquet field metadata of one documented column."""
    return {b"unit": doc.unit.encode(), b"description": doc.description.encode(), b"source": doc.source.encode()}


def documented_schema(schema: pa.Schema, fields: Mapping[str, FieldDoc]) -> pa.Schema:
    """`schema` with each documented column's declared dtype and its unit/description/source metadata."""
    out = []
    for f in schema:
        doc = fields.get(f.name)
        if doc is None:
            out.append(f)
            continue
        typ = pa.type_for_alias(doc.dtype) if doc.dtype else f.type
        out.append(pa.field(f.name, typ, f.nullable, metadata=field_metadata(doc)))
    return pa.schema(out, metadata=schema.metadata)


class TraceTable:
    """One Parquet file, appended column-batch by column-batch; readable with pandas.read_parquet.

    With `path=None` nothing is written to disk (tests, in-process training). `fields`: the
    columns' documentation (default: the data dictionary's entry for the file's stem).
    """

    def __init__(self, path: Path | None, flush_rows: int = 4096, fields: Mapping[str, FieldDoc] | None = None):
        self.path = path
        self.flush_rows = flush_rows
        self.fields = dict(fields if fields is not None else FIELDS.get(path.stem, {}) if path is not None else {})
        self._buf: dict[str, list[np.ndarray]] = {}
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._memory: list[pa.Table] = []
        self.rows = 0

    def append(self, **columns: Any) -> None:
        """Append rows given as equal-length arrays (or scalars, broadcast to the others' length)."""
        arrays = {k: np.asarray(v) for k, v in columns.items()}
        n = max((a.size for a in arrays.values() if a.ndim > 0), default=1)
        if self._buf and set(arrays) != set(self._buf):
            raise ValueError(f"trace {self.path}: columns changed from {sorted(self._buf)} to {sorted(arrays)}")
        for k, a in arrays.items():
            a = np.broadcast_to(a, (n,)) if a.ndim == 0 else a.reshape(-1)
            if a.size != n:
                raise ValueError(f"trace column {k!r} has {a.size} rows, expected {n}")
            self._buf.setdefault(k, []).append(np.array(a))
        self._buffered += n
        self.rows += n
        if self._buffered >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self._buffered:
            return
        table = pa.table({k: np.concatenate(v) for k, v in self._buf.items()})
        if self.fields:
            table = table.cast(documented_schema(table.schema, self.fields))
        self._buf = {k: [] for k in self._buf}
        self._buffered = 0
        self._memory.append(table)
        if self.path is None:
            return
        if self._writer is None:
            self._schema = table.schema
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.write_table(table.cast(self._schema))

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def to_pandas(self):
        """All rows so far (flushes first); kept in memory too, since decision-period traces are small."""
        import pandas as pd

        self.flush()
        return pa.concat_tables(self._memory).to_pandas() if self._memory else pd.DataFrame()


class Traces:
    """The run's trace tables by name, under `<run_dir>/traces/<name>.parquet`."""

    def __init__(self, run_dir: Path | None, flush_rows: int = 4096):
        self.dir = None if run_dir is None else run_dir / "traces"
        self.flush_rows = flush_rows
        self.tables: dict[str, TraceTable] = {}

    def table(self, name: str) -> TraceTable:
        t = self.tables.get(name)
        if t is None:
            t = TraceTable(None if self.dir is None else self.dir / f"{name}.parquet", self.flush_rows,
                           FIELDS.get(name, {}))
            self.tables[name] = t
        return t

    def close(self) -> None:
        for t in self.tables.values():
            t.close()
