"""Run every benchmark in bench/ (each bench/*.py but this one), one after the other, each in its own process
so they do not share warm caches or memory; print their output and a summary. `make bench` calls this.

    python bench/run_all.py [NAME ...]     # e.g. bench_convert; default: all
Exit code 1 when any benchmark fails.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))
    if argv:
        wanted = {a.removesuffix(".py") for a in argv}
        unknown = wanted - {p.stem for p in scripts}
        if unknown:
            print(f"run_all: no benchmark named {sorted(unknown)}; have {[p.stem for p in scripts]}", file=sys.stderr)
            return 2
        scripts = [p for p in scripts if p.stem in wanted]
    results = []
    for script in scripts:
        print(f"\n===== {script.name} =====", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        results.append((script.name, code, time.perf_counter() - t0))
    print("\n===== summary =====")
    for name, code, seconds in results:
        print(f"{'ok  ' if code == 0 else 'FAIL'} {name} ({seconds:.0f} s)" + ("" if code == 0 else f" exit {code}"))
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
