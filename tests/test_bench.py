"""`python -m bench --quick`, as the README gives it, end to end: every stage runs (the bounded Kafka
read on a broker it starts itself), the pipeline's rows equal DuckDB's, and the results file holds the
headline ratios. The Kafka stage had rotted unseen (plan_read's signature changed under it)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_quick_benchmark_runs_every_stage_and_checks_the_rows(tmp_path):
    out = tmp_path / "quick.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "identical, row for row" in done.stdout and "kafka bounded read" in done.stdout, done.stdout[-3000:]
    results = json.loads(out.read_text())
    assert results["ratio_pipeline_vs_fastavro"] > 0 and results["ratio_pipeline_vs_duckdb"] > 0
