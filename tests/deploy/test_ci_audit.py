"""CI's dependency audit (.ci/audit.py): a known vulnerability fails, an explained one does not, and
an audit that could not run or reach the vulnerability data says NOT DONE instead of passing quietly."""
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"


@pytest.fixture
def audit(monkeypatch, tmp_path):
    """The audit module with pip-audit replaced by ``stdout`` and the ignore file by ``ignored``."""
    spec = importlib.util.spec_from_file_location("ci_audit", AUDIT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "__file__", str(tmp_path / "audit.py"))
    calls = []

    def run(stdout, ignored=""):
        (tmp_path / "audit-ignore").write_text(ignored)
        monkeypatch.setattr(module.subprocess, "run", lambda args, **kw: calls.append(args) or
                            subprocess.CompletedProcess(args, 0, stdout=stdout, stderr="no module named pip_audit"))
        return module.main(), calls[-1]

    return run


def _report(*dependencies):
    return json.dumps({"dependencies": list(dependencies)})


VULNERABLE = {"name": "pkg", "version": "1.0", "vulns": [{"id": "GHSA-1", "fix_versions": ["1.1"]}]}
SKIPPED = {"name": "pkg", "skip_reason": "Dependency not found on PyPI and could not be audited"}


def test_a_known_vulnerability_fails_ci_with_its_id_and_fix(audit, capsys):
    assert audit(_report(VULNERABLE))[0] == 1
    assert "pkg 1.0: GHSA-1 (fixed in 1.1)" in capsys.readouterr().out


def test_an_explained_vulnerability_is_passed_to_pip_audit_and_printed_with_its_reason(audit, capsys):
    code, args = audit(_report({"name": "pkg", "version": "1.0", "vulns": []}), "GHSA-1 only in the CLI we never call\n")
    assert code == 0 and args[args.index("--ignore-vuln") + 1] == "GHSA-1"
    assert "ignoring GHSA-1: only in the CLI we never call" in capsys.readouterr().out


@pytest.mark.parametrize("stdout", [_report(SKIPPED, SKIPPED), "", "Traceback ..."])
def test_no_reachable_vulnerability_data_or_no_pip_audit_prints_not_done(audit, stdout, capsys):
    assert audit(stdout)[0] == 0  # CI goes on, but says so plainly
    assert "NOT DONE" in capsys.readouterr().out
