# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hub2lite-installed

.PHONY: setup metadata demo test bench bench-real clean chromium espeak flex-runtime

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(MAKE) metadata
	touch $(STAMP)

# --metadata needs tflite-support 0.4.4, installed without its protobuf<4 pin (see README "TFLite metadata").
# No wheel exists for Python 3.12+: there this step says so and setup goes on without --metadata.
metadata:
	$(VENV)/bin/hub2lite setup-metadata || $(PY) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))'

# The demo rewrites its own outputs in ./hub2lite-demo on every run (hence --force).
demo: setup
	$(VENV)/bin/hub2lite demo -o hub2lite-demo --force

test: setup chromium flex-runtime
	$(PY) -m pytest $(PYTEST_ARGS)

# The Flex runtime (TensorFlow 2.18.1 in its own venv under ~/.cache/hub2lite/flex-runtime) runs Select-TF-ops
# models in tests, bench and the demo. Built once per machine (~5 min, ~600 MB download); a no-op when ready.
flex-runtime: setup
	$(VENV)/bin/hub2lite setup-flex

# tests/test_report_html.py opens the sweep's report.html in headless Chromium: Debian's package (CI runs as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

bench: setup flex-runtime
	$(PY) bench/run_all.py

# Real pretrained models from PyPI packages, every quantization variant side by side (bench/real_models.py).
# The audio model's inputs are speech synthesized by Debian's espeak-ng (CI runs as root).
bench-real: setup espeak
	$(PY) bench/real_models.py --json bench-real.json --markdown bench-real.md

espeak:
	@command -v espeak-ng >/dev/null 2>&1 || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q espeak-ng)

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
