"""`hub2lite batch`: convert and validate a whole model catalog, each model in its own worker process, on this
machine (a process pool) or on Ray; resumable; one catalog (JSON, Markdown, HTML) for all of it.

    manifest.py   text / JSON manifests -> checked ModelSpecs (every per-model option of convert / sweep)
    model_options.py  those options, derived from convert's own parser; convert's argv per mode
    state.py      job keys (source + options + hub2lite version) and the resumable state file
    adapter.py    the one call into hub2lite per model: convert's own job, once per mode (runs in the worker)
    worker.py     the worker process's entry point
    supervise.py  one worker under a wall-time limit and a resident-memory watchdog; crash reasons
    local.py      the local pool            ray_exec.py   Ray tasks (optional extra hub2lite[ray])
    catalog.py    the catalog data model    run.py        run_batch: the driver, which alone writes DIR
"""

from __future__ import annotations

from .catalog import CATALOG_SCHEMA, build_catalog
from .local import default_workers
from .manifest import ModelSpec, parse_manifest
from .run import BatchConfig, BatchProgress, BatchResult, run_batch
from .state import job_key

__all__ = ["CATALOG_SCHEMA", "build_catalog", "default_workers", "ModelSpec", "parse_manifest", "BatchConfig",
           "BatchProgress", "BatchResult", "run_batch", "job_key"]
