"""Everything that runs with tf_keras: QAT and pruning through tensorflow-model-optimization.

tfmot only accepts tf_keras models, so the work runs in a child process with TF_USE_LEGACY_KERAS=1:
    launcher.py      the Keras 3 parent: quantization_aware_training, prune_to_tflite, run_in_tf_keras
    __main__.py      the child's entry point (python -m keras_resnets.export.tfmot request.json), its task table
    finetune.py      what QAT and pruning share in the child: the prologue, the fit, the flatbuffer reports
    qat.py, prune.py the two tasks
    flat_weights.py  the weights that cross between the two processes (.npz keyed by layer name)
    options.py       FinetuneOptions;  flags.py  the command lines of tflite/qat.py and tflite/prune.py
Importing this package (or launcher, flat_weights, options, flags) never imports tfmot or tf_keras.
"""

from keras_resnets.export.tfmot.launcher import prune_to_tflite, quantization_aware_training

__all__ = ["prune_to_tflite", "quantization_aware_training"]
