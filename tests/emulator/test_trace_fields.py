"""Every trace column a run writes is documented (unit, description, source) in the Parquet file
and in docs/traces.md; counts are stored as integers; one unit convention with summary.json."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emulator.emulation import Emulation
from emulator.trace_fields import BUILTIN, FieldDoc, markdown
from emulator.traces import FIELDS, METADATA_KEYS, TraceTable, register_fields
from tests.emulator.mec.test_subsystem import scenario as mec_scenario
from tests.emulator.ran.helpers import scenario as ran_scenario

DOCS = Path(__file__).resolve().parents[2] / "docs" / "traces.md"


def check_documented(path: Path, table: str) -> pa.Schema:
    schema = pq.read_schema(path)
    assert set(schema.names) == set(BUILTIN[table]), f"{table}: columns and dictionary differ"
    for f in schema:
        meta = f.metadata or {}
        assert all(meta.get(k) for k in (b"description", b"source")), f"{table}.{f.name} lacks metadata"
        assert meta[b"unit"].decode() == BUILTIN[table][f.name].unit
        if BUILTIN[table][f.name].dtype:
            assert str(f.type) == BUILTIN[table][f.name].dtype, f"{table}.{f.name} stored as {f.type}"
    return schema


def test_a_ran_run_writes_every_column_with_its_unit_and_counts_as_integers(tmp_path):
    emu = Emulation(ran_scenario(output={"report": False}), run_dir=tmp_path)
    emu.run()
    emu.close()
    schema = check_documented(tmp_path / "traces" / "ran.parquet", "ran")
    check_documented(tmp_path / "traces" / "decisions.parquet", "decisions")
    assert schema.field("throughput_bps").metadata[b"unit"] == b"bit/s"
    assert str(schema.field("packets").type) == "int64" and str(schema.field("drops").type) == "int64"
    df = pq.read_table(tmp_path / "traces" / "ran.parquet").to_pandas()
    # the summary uses the traces' SI units: its per-slice throughput is the mean of the trace column
    s = emu.summary()["ran"]["slices"][0]
    rows = df[df["slice"] == 0]["throughput_bps"]
    assert "throughput_mbps" not in s and s["throughput_bps"] == pytest.approx(rows.mean(), rel=1e-9)


def test_a_mec_run_documents_both_mec_tables(tmp_path):
    emu = Emulation(mec_scenario(output={"report": False}, duration=6.0), run_dir=tmp_path)
    emu.run()
    emu.close()
    check_documented(tmp_path / "traces" / "mec_tasks.parquet", "mec_tasks")
    check_documented(tmp_path / "traces" / "mec.parquet", "mec")


def test_registered_fields_reach_a_new_table_and_fractional_counts_are_refused(tmp_path):
    register_fields("probe_table", {"n": FieldDoc("count", "things counted", "this test", "int64"),
                                    "x": ("m", "a length", "this test")})
    try:
        t = TraceTable(tmp_path / "probe_table.parquet")
        t.append(n=np.array([1.0, 2.0]), x=np.array([0.5, 1.5]))
        t.close()
        schema = pq.read_schema(tmp_path / "probe_table.parquet")
        assert str(schema.field("n").type) == "int64"
        assert {k: schema.field("x").metadata[k] for k in METADATA_KEYS} == {
            b"unit": b"m", b"description": b"a length", b"source": b"this test"}
        bad = TraceTable(None, fields=FIELDS["probe_table"])
        bad.append(n=np.array([1.5]), x=np.array([0.0]))
        with pytest.raises(pa.ArrowInvalid):
            bad.flush()  # a "count" with a fraction is a bug upstream, not something to truncate silently
    finally:
        FIELDS.pop("probe_table", None)


def test_docs_page_is_the_generated_dictionary():
    assert DOCS.read_text(encoding="utf-8") == markdown(), "regenerate: python -m emulator.trace_fields > docs/traces.md"
