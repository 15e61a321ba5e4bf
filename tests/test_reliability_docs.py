"""docs/reliability.md lists exactly the reliability tests: every row names a collected test, every collected
test has a row."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
FILES = ["test_reliability_input.py", "test_reliability_network.py", "test_reliability_process.py",
         "test_hostile.py", "test_fuzz.py", "test_reliability_docs.py"]


def _table_tests() -> list[str]:
    rows = [ln for ln in DOC.read_text().splitlines() if ln.startswith("| ") and not ln.startswith("| Case ")]
    ids = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 4 and all(cells), f"malformed row: {row}"
        m = re.fullmatch(r"`(test_\w+\.py::test_\w+(?:\[[\w-]+\])?)`", cells[3])
        assert m, f"the Test cell must be one `file.py::test[id]`: {row}"
        ids.append(m.group(1))
    return ids


def _collected() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          *[f"tests/{f}" for f in FILES]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return {ln.strip().removeprefix("tests/") for ln in out.stdout.splitlines() if "::" in ln}


def test_table_lists_exactly_the_reliability_tests() -> None:
    listed = _table_tests()
    assert len(listed) == len(set(listed)), "a test is listed twice"
    collected = _collected()
    assert sorted(set(listed) - collected) == [], "rows name tests that do not exist"
    assert sorted(collected - set(listed)) == [], "tests missing from docs/reliability.md"
