"""TFLite metadata: what an app needs to use a .tflite without re-implementing its preprocessing.

    spec      ModelMetadata / InputMetadata / ImageInput / OutputMetadata: plain frozen values
    writer    write_metadata(model bytes, ModelMetadata) -> bytes; read_metadata(bytes) -> ModelMetadata | None
    support   tflite-support 0.4.4 import and installer (`hub2lite setup-metadata`), Python 3.7-3.11 only

Importing this package imports neither TensorFlow nor tflite-support.
"""

from __future__ import annotations

from .spec import (OUTPUT_DESCRIPTIONS, ColorSpace, ImageInput, InputMetadata, ModelMetadata, OutputKind,
                   OutputMetadata, mediapipe_notes)
from .support import (TFLITE_SUPPORT_VERSION, InstallResult, MetadataUnavailableError, check_python,
                      install_metadata_support, metadata_support_available)
from .writer import has_metadata, read_metadata, tensor_names, write_metadata

__all__ = ["ColorSpace", "OutputKind", "ImageInput", "InputMetadata", "OutputMetadata", "ModelMetadata",
           "OUTPUT_DESCRIPTIONS", "mediapipe_notes", "TFLITE_SUPPORT_VERSION", "InstallResult",
           "MetadataUnavailableError", "check_python", "install_metadata_support", "metadata_support_available",
           "has_metadata", "read_metadata", "tensor_names", "write_metadata"]
