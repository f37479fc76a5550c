"""CI's dependency audit: pip-audit over the installed environment, its result printed.

A known vulnerability fails CI, unless .ci/audit-ignore lists its id with the reason it does not
apply (one "ID  reason" a line). pip-audit asks PyPI's JSON API; where that is unreachable (a mirror
that serves only the package index), packages are reported as not audited and CI goes on: the audit
must not fail for lack of network, but it says plainly that it did not run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    ignore_file = Path(__file__).with_name("audit-ignore")
    ignored = {}
    if ignore_file.exists():
        for line in ignore_file.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                vuln_id, _, reason = line.strip().partition(" ")
                ignored[vuln_id] = reason.strip()
    args = [sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off", "--format", "json"]
    for vuln_id in ignored:
        args += ["--ignore-vuln", vuln_id]
    done = subprocess.run(args, capture_output=True, text=True)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"dependency audit: pip-audit did not run ({' '.join(done.stderr.split())[:300]}); not audited")
        return 0
    audited = [d for d in report["dependencies"] if "skip_reason" not in d]
    skipped = [d for d in report["dependencies"] if "skip_reason" in d]
    findings = [(d["name"], d["version"], v) for d in audited for v in d.get("vulns", [])]
    for name, version, vuln in findings:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
        print(f"dependency audit: {name} {version}: {vuln['id']} (fixed in {fixes})")
    for vuln_id, reason in ignored.items():
        print(f"dependency audit: ignoring {vuln_id}: {reason}")
    print(f"dependency audit: {len(audited)} packages audited, {len(findings)} known vulnerabilities, "
          f"{len(skipped)} not audited" + (f" ({skipped[0]['skip_reason']}, ...)" if skipped else ""))
    if skipped and not audited:
        print("dependency audit: NOT DONE: the vulnerability data was unreachable from this machine")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
