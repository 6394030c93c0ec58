"""The options of QAT and pruning fine-tuning (read in the Keras 3 parent, sent to the tf_keras child as JSON)."""

import dataclasses

from keras_resnets.checks import check_choice, check_positive_int, check_range
from keras_resnets.data.options import DataOptions, check_setting_integer
from keras_resnets.export.converter import IO_TYPES


@dataclasses.dataclass
class FinetuneOptions(DataOptions):
    """The data settings (DataOptions, as the training app's flags of the same names) and the fine-tuning's."""

    epochs: int = 1
    train_steps: int = 0  # total optimizer steps; overrides `epochs`
    learning_rate: float = 1e-3  # fine-tuning: small, decayed by a cosine to 0
    momentum: float = 0.9
    freeze_batch_norm: bool = False  # BN uses (and keeps) its moving statistics; gamma and beta stay fixed
    calibration_examples: int = 256  # training images that calibrate the float -> int8 (PTQ) conversions
    io_type: str = "int8"  # input/output type of the .tflite: int8, uint8 or float32
    verbose: int = 2

    def validate(self):
        self.check_data()
        check_setting_integer("epochs", self.epochs, 0)
        check_setting_integer("train_steps", self.train_steps, 0)
        if self.epochs < 1 and self.train_steps < 1:
            raise ValueError("--epochs or --train_steps must be >= 1; got 0 for both.")
        check_range("learning_rate", self.learning_rate, "(0, inf)")
        check_range("momentum", self.momentum, "[0, 1)")
        check_positive_int("calibration_examples", self.calibration_examples)
        check_choice("io_type", self.io_type, IO_TYPES)
        check_choice("verbose", self.verbose, (0, 1, 2))
        return self
