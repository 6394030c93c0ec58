"""Deployment: TFLite conversion with post-training quantization, preprocessing folding, verification, benchmarks.

The modules here run in the user's Keras 3 process; `tfmot/` holds QAT and pruning, which run with tf_keras in a
child process.

    from keras_resnets.export import calibration_images, convert, verify
    images = calibration_images("tfrecord:/data/cifar10", "train", 128, recipe="cifar")
    flatbuffer = convert("resnet20", "int8", calibration=images, io_type="uint8")
"""

from keras_resnets.backend import require_tensorflow

require_tensorflow("TFLite export (keras_resnets.export, tflite/)")  # before anything here loads TensorFlow
from keras_resnets.export.calibration import calibration_images, representative_dataset
from keras_resnets.export.converter import (IO_TYPES, MODES, FlexOpsError, convert, has_fake_quant, prepare_model,
                                           to_tflite, unsupported_ops)
from keras_resnets.export.litert import interpreter, operator_names, predict
from keras_resnets.export.loading import load_model
from keras_resnets.export.preprocessing import normalization, with_preprocessing
from keras_resnets.export.tfmot import prune_to_tflite, quantization_aware_training
from keras_resnets.export.tfmot.flat_weights import load_flat_weights, save_flat_weights
from keras_resnets.export.verify import gpu_compatibility, verify

__all__ = ["FlexOpsError", "IO_TYPES", "MODES", "calibration_images", "convert", "gpu_compatibility", "has_fake_quant",
           "interpreter", "load_flat_weights", "load_model", "normalization", "operator_names", "predict", "prepare_model",
           "prune_to_tflite", "quantization_aware_training", "representative_dataset",
           "save_flat_weights", "to_tflite", "unsupported_ops", "verify", "with_preprocessing"]
