"""One loader per model format, each `(resolved, format, tags, options) -> LoadedModel` (load.py picks one):

    savedmodel.py  SavedModel and TF1 Hub format folders (signatures, else the traced __call__)
    keras.py       .keras / .h5 files (Keras 3 exported to a SavedModel, Keras 2 and hub.KerasLayer via tf_keras)
    frozen.py      TF1 frozen GraphDef .pb files (wrap_function + prune, training switches frozen)
"""
