"""The benchmark harness runs: ``python -m bench --quick`` on its cheapest figures writes a JSON of
figures with positive times and ratios (keeps bench/ from rotting; the figures themselves are not
checked against their targets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_quick_writes_figures(tmp_path: Path) -> None:
    results = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            "ingest",
            "events",
            "--results",
            str(results),
            "--no-plot",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LAKEHOUSE_BENCH_PG_URL": ""},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    document = json.loads((results / "latest.json").read_text())
    figures = {f["figure"]: f for f in document["figures"]}
    assert {"ingest", "events", "events_vs_row_by_row"} <= set(figures)
    for figure in document["figures"]:
        assert figure["project_median"] > 0
        assert figure["baseline_median"] > 0
        assert figure["ratio"] > 0
        assert figure["target"]["text"]
    assert "ingest (BronzeIngest)" in proc.stdout  # the table
