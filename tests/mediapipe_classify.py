"""Run inside the MediaPipe venv (tests/mediapipe_env.py): classify images with MediaPipe Tasks' ImageClassifier.

    python mediapipe_classify.py MODEL.tflite MAX_RESULTS IMAGE...

The classifier takes labels and input normalization from the model's TFLite metadata only. Prints one JSON line:
{image: [{"index", "category_name", "score"}, ...]}; a model MediaPipe refuses exits 3 with its message on stderr.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    import mediapipe as mp
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    model, max_results, images = argv[0], int(argv[1]), argv[2:]
    options = vision.ImageClassifierOptions(base_options=mp_tasks.BaseOptions(model_asset_path=model),
                                            max_results=max_results)
    try:
        classifier = vision.ImageClassifier.create_from_options(options)
    except (RuntimeError, ValueError) as exc:
        print(f"MediaPipe refused the model: {exc}", file=sys.stderr)
        return 3
    out = {}
    with classifier:
        for path in images:
            result = classifier.classify(mp.Image.create_from_file(path))
            head = result.classifications[0]
            out[path] = [{"index": c.index, "category_name": c.category_name, "score": c.score}
                         for c in head.categories]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
