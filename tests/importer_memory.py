"""An importer's peak memory, measured in a process of its own (ru_maxrss is per process)."""
import subprocess
import sys
from pathlib import Path

MEASURE_PEAK = """
import resource, sys
from importers.{module} import import_{module}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
items = list(import_{module}([sys.argv[1]]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(sum(1 for i in items if not hasattr(i, "reason")), sorted(i.reason for i in items if hasattr(i, "reason")),
      (after - before) // 1024)
"""


def peak_of_import(module, path):
    """(events, skip reasons, MB the peak RSS grew) of importing ``path``, in a process of its own."""
    done = subprocess.run([sys.executable, "-c", MEASURE_PEAK.format(module=module), str(path)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], check=True)
    events, rest = done.stdout.split(" ", 1)
    return int(events), rest.rsplit(" ", 1)[0], int(rest.rsplit(" ", 1)[1])
