"""Pass thresholds for validation: `Tolerance`, the documented per-mode defaults and the `--task` choices
(pure; no TensorFlow). The metrics they judge: metrics.py; the comparison: validate.py."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .specs import QuantMode

__all__ = ["Tolerance", "DEFAULT_TOLERANCES", "default_tolerance", "TASKS"]

#: `task` values (the CLI's --task choices).
TASKS = ("auto", "classification", "embedding", "other")


@dataclass(frozen=True)
class Tolerance:
    """Pass thresholds. An output passes when every check that applies to it holds:

    * max |tflite - original| <= atol + rtol * max |original|          (floating outputs)
    * cosine similarity of the worst sample >= min_cosine               (floating outputs)
    * SNR = 10 log10(mean(original^2) / mean(error^2)) >= min_snr_db    (floating outputs)
    * top-1 agreement >= min_top1_agreement                             (classifiers; also the
      fraction of equal elements of integer/string outputs)
    * top-5 overlap >= min_top5_overlap, KL(original || tflite) <= max_kl  (classifiers)
    * labeled top-1 accuracy drop (original - tflite) <= max_accuracy_drop  (when labels are given)

    `sample_quantile` q sets which sample the two per-sample checks (max abs error, cosine) judge: 0 is
    the worst sample; 0.05 lets the worst 5% of samples miss (the quantized modes' default: quantization
    noise flips the odd ambiguous sample, which top-1 agreement, KL and SNR still count). The worst sample
    is always reported.

    A limit of None is not checked (±inf from the CLI means the same).
    """

    atol: float = 1e-4
    rtol: float = 1e-3
    min_cosine: float = 0.9999
    min_top1_agreement: float = 1.0
    min_snr_db: float | None = 35.0
    min_top5_overlap: float | None = None
    max_kl: float | None = 1e-3
    max_accuracy_drop: float | None = 0.01
    sample_quantile: float = 0.0

    def to_dict(self) -> dict[str, float | None]:
        return {k: _limit(getattr(self, k)) for k in self.__dataclass_fields__}


def _limit(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# Documented per-mode defaults (README "validate"). Float32 must match to float rounding. For quantized
# modes min_snr_db follows min_cosine (SNR ~ -10 log10(2 (1 - cos))), and max_kl / max_accuracy_drop were set
# with a margin over what the digits CNN measured on 360 held-out digits (see tests/test_validate.py).
DEFAULT_TOLERANCES: dict[QuantMode, Tolerance] = {
    QuantMode.FLOAT32: Tolerance(atol=1e-4, rtol=1e-3, min_cosine=0.9999, min_top1_agreement=1.0, min_snr_db=35.0,
                                 max_kl=1e-3, max_accuracy_drop=0.01),
    QuantMode.FLOAT16: Tolerance(atol=1e-2, rtol=2e-2, min_cosine=0.999, min_top1_agreement=0.95, min_snr_db=25.0,
                                 max_kl=1e-2, max_accuracy_drop=0.01),
    QuantMode.DYNAMIC: Tolerance(atol=5e-2, rtol=0.1, min_cosine=0.99, min_top1_agreement=0.9, min_snr_db=15.0,
                                 max_kl=0.05, max_accuracy_drop=0.02, sample_quantile=0.05),
    QuantMode.INT8: Tolerance(atol=0.1, rtol=0.25, min_cosine=0.95, min_top1_agreement=0.8, min_snr_db=10.0,
                              max_kl=0.1, max_accuracy_drop=0.05, sample_quantile=0.05),
    QuantMode.INT8_STRICT: Tolerance(atol=0.1, rtol=0.25, min_cosine=0.95, min_top1_agreement=0.8, min_snr_db=10.0,
                                     max_kl=0.1, max_accuracy_drop=0.05, sample_quantile=0.05),
    QuantMode.INT16X8: Tolerance(atol=2e-2, rtol=5e-2, min_cosine=0.995, min_top1_agreement=0.9, min_snr_db=18.0,
                                 max_kl=0.05, max_accuracy_drop=0.02, sample_quantile=0.05),
}


def default_tolerance(mode: QuantMode | str = QuantMode.FLOAT32, **overrides: float | None) -> Tolerance:
    """The documented defaults of `mode`, with every override that is not None applied."""
    base = DEFAULT_TOLERANCES[QuantMode(mode)]
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
