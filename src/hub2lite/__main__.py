import sys

from .cli import entry

sys.exit(entry())  # `python -m hub2lite` is the `hub2lite` command: guarded against native crashes (crashguard.py)
