"""Starting a run from pretrained weights (`--weights`): the dataset's classes on a checkpoint's backbone, the
checkpoint's own eval transform (resolution, crop fraction, interpolation, mean/std), a frozen backbone or a
slower one.

BatchNorm follows Keras' transfer-learning guide. With `--freeze_backbone` every backbone layer is non-trainable,
and a non-trainable BatchNormalization runs in inference mode in Keras 3 (it normalizes with the checkpoint's
moving statistics and never updates them): only the new head learns. Unfrozen (fine-tuning), the BatchNorm layers
stay non-trainable, so in inference mode too, while every conv kernel trains: the first large updates of a new
head cannot wreck statistics learned on ImageNet, and a small batch never replaces them.
`--backbone_learning_rate_multiplier` scales the learning rate of every variable but the head's.
"""

from keras_resnets.backend import keras
from keras_resnets.graph import flatten
from keras_resnets.layers.base import PACKAGE
from keras_resnets.models.registry import create_model
from keras_resnets.pretrained import is_hub_weights, pretrained_config
from keras_resnets.training.optimizer import KernelDecaySGD

HEAD_LAYERS = ("predictions", "head_dropout")  # what a model with a new `classes` has of its own


def resolve_checkpoint(config):
    """The `PretrainedConfig` of hub `--weights` (None for none or a file): read once per run, then passed to
    each step that needs it, down to the builder that loads the tensors."""
    return pretrained_config(config.model, config.weights) if is_hub_weights(config.weights) else None


def pipeline_overrides(config, checkpoint):
    """Input-pipeline arguments a hub `checkpoint` sets: its mean/std (0..255 units), its eval crop fraction and
    interpolation (the transform `keras_resnets.preprocessing` builds) and, unless --image_size is given, its
    resolution."""
    if checkpoint is None:
        return {}
    return dict(normalization=checkpoint.pixel_normalization, **checkpoint.eval_crop,
                image_size=requested_image_size(config, checkpoint))


def requested_image_size(config, checkpoint):
    """--image_size, else a hub `checkpoint`'s resolution; None: the dataset's own."""
    return config.image_size or (checkpoint.input_size[0] if checkpoint is not None else None)


def build_model(config, classes, input_shape, checkpoint):
    """`config.model` with `classes` logits, starting from `config.weights` (`checkpoint`: their resolved hub
    checkpoint, or None); a checkpoint with another class count gives its backbone (everything but the
    classifier) and a new head."""
    overrides = {"input_shape": input_shape, **config.model_overrides}
    weights = config.weights if checkpoint is None else checkpoint
    if checkpoint is None or checkpoint.num_classes == classes:
        return create_model(config.model, classes=classes, classifier_activation=None, weights=weights, **overrides)
    backbone = create_model(config.model, include_top=False, weights=weights, **overrides)
    model = create_model(config.model, classes=classes, classifier_activation=None, **overrides)
    for layer in backbone.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def check_evaluable(config, checkpoint, classes):
    """Evaluating the hub `checkpoint` as it is needs a dataset with its classes."""
    if checkpoint is not None and checkpoint.num_classes != classes:
        raise ValueError(f"--eval_only evaluates the classifier of {checkpoint.repo_id}, which has "
                         f"{checkpoint.num_classes} classes; --dataset={config.dataset} has {classes}. Fine-tune "
                         f"it first (without --eval_only), or evaluate on a dataset with its classes.")


def prepare_backbone(model, freeze_backbone):
    """Freezes the backbone (`freeze_backbone`), or unfreezes it but for its BatchNorm layers (fine-tuning; a
    second phase after a frozen one); see the module text."""
    for layer in model.layers:
        if layer.name not in HEAD_LAYERS:
            layer.trainable = not freeze_backbone  # (for a block, all its sublayers too)
    if not freeze_backbone:
        # Blocks own their BatchNorm layers: the flat graph (the same layer objects) lists every one.
        for layer in flatten(model).layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    return model


def optimizer_arguments(config):
    """(SGD class, its extra arguments): a backbone learning-rate multiplier needs the scaled SGD."""
    if config.backbone_learning_rate_multiplier == 1.0:
        return KernelDecaySGD, {}
    return BackboneScaledSGD, dict(backbone_multiplier=config.backbone_learning_rate_multiplier)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BackboneScaledSGD(KernelDecaySGD):
    """`KernelDecaySGD` whose learning rate is `backbone_multiplier` times smaller or larger for every variable
    outside the head layers (momentum and decay see the scaled rate, as with a per-group rate in PyTorch)."""

    def __init__(self, backbone_multiplier=1.0, head_layers=HEAD_LAYERS, **kwargs):
        super().__init__(**kwargs)
        self.backbone_multiplier = float(backbone_multiplier)
        self.head_layers = tuple(head_layers)

    def update_step(self, gradient, variable, learning_rate):
        # The backend's variable (a tf.Variable named by its Keras path) names its top-level layer first.
        if variable.name.split(":")[0].split("/")[0] not in self.head_layers:
            learning_rate = learning_rate * self.backbone_multiplier
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "backbone_multiplier": self.backbone_multiplier,
                "head_layers": list(self.head_layers)}
