"""report.html from a real sweep, opened in headless Chromium (Debian's package, installed by `make test`):
the page's own script reports that the chart rendered with a size and the table has a row per variant, and a
screenshot shows the chart's colours."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hub2lite.report.analysis import analyze
from hub2lite.report.sweep import render_html
from models_bench import digits_sweep

# matplotlib's tab10 colours of the first two variants' markers (float32, float16): only the chart uses them
TAB_BLUE, TAB_ORANGE = (31, 119, 180), (255, 127, 14)


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        pytest.fail("chromium is not installed: run `make test` (it installs Debian's chromium) or "
                    "`apt-get install -y chromium`")
    return path


def _run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory, digits_model, digits_split):
    run = digits_sweep(tmp_path_factory.getbasetemp() / "digits-sweep", digits_model, digits_split)
    assert run.code == 0, run
    return run


def test_html_is_self_contained(sweep_run):
    page = (sweep_run.directory / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert not re.search(r"<(img|link|iframe)\b", page) and not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page)  # nothing fetched
    assert "url(" not in page.split("<svg")[0]


def test_headless_chromium_renders_chart_and_table(sweep_run, tmp_path):
    page = (sweep_run.directory / "report.html").resolve()
    dom = _run_chromium(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    # set by the page's script after layout: the chart's <svg> has a real size and drawn paths
    assert 'data-chart-rendered="true"' in dom, dom[:500]
    assert f'data-variant-rows="{len(sweep_run.modes)}"' in dom
    assert f"rendered: chart yes, {len(sweep_run.modes)} variant rows" in dom
    for mode in sweep_run.modes:
        assert re.search(rf"<tr class=\"variant pass\" data-variant=\"{mode}\">", dom), mode
    assert 'data-variant="original"' in dom

    shot = tmp_path / "report.png"
    _run_chromium(tmp_path / "profile2", "--window-size=1280,1400", "--hide-scrollbars", f"--screenshot={shot}",
                  page.as_uri())
    from PIL import Image

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(shot) as img:
        img.verify()
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB")).astype(np.int16)
    assert pixels.shape == (1400, 1280, 3)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # not blank

    def count(color: tuple[int, int, int]) -> int:
        return int(np.sum(np.all(np.abs(pixels - np.array(color)) <= 12, axis=-1)))

    assert count(TAB_BLUE) > 30 and count(TAB_ORANGE) > 30  # the chart's markers are on screen


def test_failed_variant_rendered_with_its_error(sweep_run):
    """A variant that failed to convert keeps its row (marked failed, with the error) and its open details."""
    report = json.loads((sweep_run.directory / "report.json").read_text())
    broken = copy.deepcopy(report)
    v = next(v for v in broken["variants"] if v["mode"] == "int8")
    v.update(status="conversion failed", error="ops ['Sin'] have no int8 kernel", file=None, size_bytes=None,
             conversion=None, validation=None, passed=False, accuracy=None, agreement=None, bench=None)
    page = render_html(analyze(broken))
    assert "<tr class='variant fail' data-variant='int8'>" in page
    assert "CONVERSION FAILED: ops [&#x27;Sin&#x27;] have no int8 kernel" in page
    assert re.search(r"<details class=variant-details id='variant-int8' open>", page)
    assert "int8 (conversion failed)" in page  # named among the variants not recommended


def test_changed_top1_predictions_named_in_the_variant_details(sweep_run):
    """A classifier output whose top-1 changed on some samples says how many and how sure the original was."""
    report = json.loads((sweep_run.directory / "report.json").read_text())
    changed = copy.deepcopy(report)
    v = next(v for v in changed["variants"] if v["mode"] == "int8")
    out = next(o for o in v["validation"]["outputs"] if o.get("top1_agreement") is not None)
    out.update(top1_changed=3, top1_changed_max_margin=0.0412)
    page = render_html(analyze(changed))
    assert (f"<li>{out['name']}: top-1 changed on 3 of {v['validation']['samples']} samples; the original&#x27;s "
            "margin between its top two classes was at most 0.041 (probability) on them</li>") in page
