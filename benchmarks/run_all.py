"""Runs every benchmark script in this folder, one process each.

Usage: ``python benchmarks/run_all.py [--quick] [NAME ...]``. Arguments other
than benchmark names are passed on to every script.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(
        path for path in _HERE.glob("*.py") if path.name != Path(__file__).name
    )
    names = {path.stem for path in scripts}
    chosen = [argument for argument in argv if argument in names]
    passed_on = [argument for argument in argv if argument not in names]
    if chosen:
        scripts = [path for path in scripts if path.stem in chosen]
    if not scripts:
        print("no benchmark scripts found in", _HERE)
        return 1
    failures = []
    for script in scripts:
        print(f"\n=== {script.name} {' '.join(passed_on)}", flush=True)
        start = time.perf_counter()
        completed = subprocess.run([sys.executable, str(script), *passed_on])
        print(
            f"=== {script.name}: exit {completed.returncode}, "
            f"{time.perf_counter() - start:.1f} s",
            flush=True,
        )
        if completed.returncode != 0:
            failures.append(script.name)
    if failures:
        print("failed:", ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
