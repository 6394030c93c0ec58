"""Quantization-aware training (tfmot) of a trained keras_resnets model, to a full-int8 .tflite.

    python tflite/qat.py --model_path=runs/cifar10_resnet20/model.keras --dataset=tfrecord:/path/to/cifar10 \
        --epochs=1 --learning_rate=0.001 --output=runs/cifar10_resnet20/resnet20_qat_int8.tflite

The data flags are the training app's (one --flagfile can hold both). tfmot needs tf_keras: the work runs in a
child process with TF_USE_LEGACY_KERAS=1 (keras_resnets.export.tfmot). Writes the .tflite and a JSON report
(float vs int8 accuracy, sizes raw and gzipped).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # noqa: E402

from keras_resnets import cli  # noqa: E402
from keras_resnets.export.tfmot import flags as finetune_flags  # noqa: E402

TASK = "qat"
finetune_flags.define_flags(TASK)
flags.adopt_module_key_flags(finetune_flags)  # --help lists these flags, not absl's own
main = finetune_flags.main(TASK)

if __name__ == "__main__":
    cli.run(main)
