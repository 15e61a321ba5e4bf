"""Importing TensorFlow without its C++ log noise (CUDA-plugin, CPU-feature and converter chatter).

hub2lite quiets TensorFlow only where the user has not configured its logging: when TF_CPP_MIN_LOG_LEVEL is
unset and TensorFlow is not imported yet. `hub2lite --debug` (or `debug=True`) leaves it alone.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["quiet_tensorflow", "import_tensorflow_quietly"]


def quiet_tensorflow(*, debug: bool = False) -> bool:
    """Set TensorFlow's C++ log level before its first import, unless the user chose one. True if set."""
    if debug or "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")
    return True


def import_tensorflow_quietly(*, debug: bool = False) -> None:
    """Import TensorFlow once, its import-time chatter on fd 2 hidden (not with debug, nor where the user set
    TF_CPP_MIN_LOG_LEVEL themselves)."""
    if debug:
        return
    warnings.filterwarnings("ignore", message=r".*Please use the LiteRT interpreter.*")
    if "tensorflow" in sys.modules:
        return
    if not quiet_tensorflow() and os.environ.get("TF_CPP_MIN_LOG_LEVEL") not in ("2", "3"):
        import tensorflow  # noqa: F401 - the user asked for TensorFlow's logs
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401,F811
    finally:
        os.dup2(saved, 2)
        os.close(saved)
