"""`python -m hub2lite.batch WORKDIR/job.json`: the worker process of a batch (see worker.py)."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")

from .worker import main  # noqa: E402 - the environment first, before anything can import TensorFlow

sys.exit(main())
