import json
import subprocess
import sys
from pathlib import Path

from pipelines.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_the_flex_template_spec_parses_and_names_real_run_options():
    spec = json.loads((ROOT / "deploy" / "dataflow" / "metadata.json").read_text())
    run = build_parser()[0]._subparsers._group_actions[0].choices["run"]
    options = {action.dest for action in run._actions}
    assert spec["name"] and {p["name"] for p in spec["parameters"]} <= options


def test_the_package_builds_into_a_wheel_that_installs_and_imports_in_a_fresh_venv(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("social_mentors-*.whl")
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    # Dependencies come from this environment's site-packages, the project's code only from the wheel.
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    check = (
        "import sys; sys.path.append(%r)\n"
        "import schemas, pipelines.cli, transforms.score, warehouse, importers, pipelines.dataflow_main\n"
        "assert 'fresh' in schemas.__file__, schemas.__file__\n"
        "assert schemas.field_names('pair_scores')[0] == 'site'\n"
        "assert 'pair_scores_latest' in schemas.query_sql('mentors', 'duckdb')\n"
        "print('ok')\n" % deps
    )
    result = subprocess.run([str(venv / "bin" / "python"), "-c", check], capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip().endswith("ok"), result.stderr[-2000:]
