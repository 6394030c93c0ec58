"""Deployment: TFLite conversion and checks."""

from keras_resnets.export.tflite import FlexOpsError, operator_names, run_tflite, to_tflite

__all__ = ["FlexOpsError", "operator_names", "run_tflite", "to_tflite"]
