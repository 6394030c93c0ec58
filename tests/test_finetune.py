"""Fine-tuning mechanics on CPU at a small size: 1,000-class checkpoints (timm fixtures with a new classifier, in
an offline hub cache) to the sample's 10 classes; frozen backbone, then unfrozen with BatchNorm in inference mode;
the backbone learning-rate multiplier; the fine-tuning flagfiles; --eval_only of a pretrained model."""

import dataclasses
import json
import pathlib

import numpy as np
import pytest
from absl import flags

from keras_resnets.backend import keras
from keras_resnets.models.registry import create_model
from keras_resnets.pretrained import PUBLISHED
from keras_resnets.timm_weights import read_safetensors
from keras_resnets.training import TrainConfig, evaluate, train
from keras_resnets.training.flags import config_from_flags, define_flags
from keras_resnets.training.transfer import BackboneScaledSGD, build_model, prepare_backbone, resolve_checkpoint
from tests.hub_cache import hub_cache, timm_config  # noqa: F401  (hub_cache is a fixture)
from tests.timm_fixtures import FIXTURES

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGENET_STATS = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
# Registered model -> (fixture of a small architecture, builder overrides that build it, timm classifier).
SMALL = {
    "resnet50": ("resnet_bottleneck", dict(layers=(1, 2, 1, 1), widths=(4, 8, 16, 32)), "fc"),
    "rexnet_100": ("rexnet_100", dict(depth_mult=0.25, initial_chs=8, final_chs=16), "head.fc"),
}
FINETUNE_CONFIGS = {path.stem: path for path in sorted((ROOT / "apps" / "configs").glob("finetune_*.cfg"))}


def publish_imagenet_checkpoint(hub_cache, name):
    """The default checkpoint of `name`: its small fixture with a 1,000-class classifier, at 32 pixels."""
    fixture, _, classifier = SMALL[name]
    tensors = read_safetensors(FIXTURES / f"{fixture}.safetensors")
    features = tensors[f"{classifier}.weight"].shape[1]
    tensors[f"{classifier}.weight"] = np.random.default_rng(0).normal(0, 0.1, (1000, features)).astype(np.float32)
    tensors[f"{classifier}.bias"] = np.zeros(1000, np.float32)
    hub_cache.publish(f"timm/{name}.{PUBLISHED[name][0]}", None,
                      timm_config(name, num_classes=1000, input_size=32, classifier=classifier, **IMAGENET_STATS),
                      tensors=tensors)


def checkpoint_backbone(name):
    return weights_by_layer(create_model(name, include_top=False, weights="imagenet", **SMALL[name][1]))


def weights_by_layer(model):
    return {layer.name: [np.array(value) for value in layer.get_weights()] for layer in model.layers if layer.weights}


def batch_norm_variables(model):
    return {variable.path: np.array(variable) for layer in model.layers for sublayer in layer._flatten_layers()
            if isinstance(sublayer, keras.layers.BatchNormalization) for variable in sublayer.weights}


def kernels(model):
    return {variable.path: np.array(variable) for variable in model.weights if variable.path.endswith("kernel")}


def changed_layers(model, before):
    after = weights_by_layer(model)
    return sorted(name for name in after if any(not np.array_equal(a, b) for a, b in zip(after[name], before[name])))


def fit_a_few_steps(model, learning_rate=0.05):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(1)
    images, labels = rng.normal(0, 1, (32, 32, 32, 3)).astype(np.float32), rng.integers(0, 10, 32)
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)


def flagfile_config(flagfile, tmp_path, *overrides):
    """The flagfile's run, two steps on the shipped sample with the small architecture of its model."""
    flag_values = flags.FlagValues()
    define_flags(flag_values)
    flag_values(["train.py", f"--flagfile={flagfile}"])
    model = config_from_flags(flag_values).model
    flag_values(["train.py", f"--flagfile={flagfile}", "--dataset=sample", "--train_steps=2", "--batch_size=8",
                 "--train_examples=16", "--eval_examples=8", "--image_size=32", f"--model_dir={tmp_path / 'run'}",
                 "--verbose=0", f"--model_overrides={json.dumps(SMALL[model][1])}", *overrides])
    return config_from_flags(flag_values)


def test_frozen_then_unfrozen_backbone(tmp_path, hub_cache):
    publish_imagenet_checkpoint(hub_cache, "resnet50")
    config = TrainConfig(model="resnet50", model_overrides=SMALL["resnet50"][1], weights="imagenet")
    model = build_model(config, 10, (32, 32, 3), resolve_checkpoint(config))
    assert model.get_layer("predictions").units == 10
    before = weights_by_layer(model)
    for name, values in checkpoint_backbone("resnet50").items():  # every backbone variable from the checkpoint
        for ours, theirs in zip(before[name], values):
            np.testing.assert_array_equal(ours, theirs)

    # Phase 1, frozen: training steps change the head only (BatchNorm in inference mode: statistics kept).
    fit_a_few_steps(prepare_backbone(model, freeze_backbone=True))
    assert changed_layers(model, before) == ["predictions"]

    # Phase 2, unfrozen: the convs train; BatchNorm stays in inference mode (statistics and scale/offset kept).
    batch_norms, convs = batch_norm_variables(model), kernels(model)
    fit_a_few_steps(prepare_backbone(model, freeze_backbone=False), learning_rate=0.01)
    for path, value in batch_norm_variables(model).items():
        np.testing.assert_array_equal(value, batch_norms[path], err_msg=path)
    moved = [path for path, value in kernels(model).items() if not np.array_equal(value, convs[path])]
    assert len(moved) == len(convs)


def test_backbone_learning_rate_multiplier_scales_the_backbones_steps():
    model = create_model("resnet50", classes=10, input_shape=(32, 32, 3), **SMALL["resnet50"][1])
    optimizer = BackboneScaledSGD(backbone_multiplier=0.25, learning_rate=0.1, momentum=0.9)
    variables = model.trainable_variables
    before = [np.array(variable) for variable in variables]
    optimizer.apply([keras.ops.ones_like(variable) for variable in variables], variables)
    for variable, old in zip(variables, before):
        step = 0.1 if variable.path.startswith("predictions/") else 0.025
        np.testing.assert_allclose(old - np.array(variable), step, rtol=1e-5, err_msg=variable.path)
    assert BackboneScaledSGD.from_config(optimizer.get_config()).backbone_multiplier == 0.25


def test_folder_flagfile_trains_the_new_head_on_a_frozen_backbone(tmp_path, hub_cache):
    publish_imagenet_checkpoint(hub_cache, "rexnet_100")
    config = flagfile_config(FINETUNE_CONFIGS["finetune_folder_rexnet_100"], tmp_path)
    assert config.freeze_backbone and config.weights == "imagenet"
    assert train(config)["steps"] == 2
    trained = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert trained.get_layer("predictions").units == 10
    assert changed_layers(trained, {**checkpoint_backbone("rexnet_100"),
                                    "predictions": [np.zeros((1280, 10)), np.zeros(10)]}) == ["predictions"]


def test_cifar_flagfile_fine_tunes_with_batchnorm_in_inference_mode(tmp_path, hub_cache):
    publish_imagenet_checkpoint(hub_cache, "resnet50")
    config = flagfile_config(FINETUNE_CONFIGS["finetune_cifar10_resnet50"], tmp_path)
    assert not config.freeze_backbone and config.backbone_learning_rate_multiplier == 0.1
    assert train(config)["steps"] == 2
    trained = keras.saving.load_model(tmp_path / "run" / "model.keras")
    start = create_model("resnet50", include_top=False, weights="imagenet", **SMALL["resnet50"][1])
    statistics = batch_norm_variables(start)
    for path, value in batch_norm_variables(trained).items():
        np.testing.assert_array_equal(value, statistics[path], err_msg=path)
    convs = kernels(start)
    assert all(not np.array_equal(value, convs[path]) for path, value in kernels(trained).items() if path in convs)


def test_eval_only_measures_a_pretrained_model(tmp_path, hub_cache):
    # A checkpoint with the dataset's classes, measured with its own classifier.
    hub_cache.publish("timm/resnet50.tv_in1k", "resnet_bottleneck",
                      timm_config("resnet50", input_size=32, **IMAGENET_STATS))
    config = TrainConfig(model="resnet50", model_overrides=SMALL["resnet50"][1], weights="timm/resnet50.tv_in1k",
                         eval_only=True, eval_examples=32, batch_size=16, model_dir=str(tmp_path / "eval"), verbose=0)
    metrics = evaluate(config)
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written == metrics and written["weights"] == "timm/resnet50.tv_in1k"
    assert 0 <= written["top1"] <= written["top5"] <= 1 and written["top5"] > 0
    # The same command where a run has saved its model evaluates that model, not the weights it started from.
    trained = create_model("resnet50", classes=10, input_shape=(32, 32, 3), classifier_activation=None,
                           **SMALL["resnet50"][1])
    trained.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    trained.save(tmp_path / "eval" / "model.keras")
    assert "top1" not in evaluate(config) and (tmp_path / "eval" / "eval.json").is_file()


def test_eval_of_a_checkpoint_uses_its_crop_and_interpolation(tmp_path, hub_cache, monkeypatch):
    # A checkpoint whose config.json asks for a tight crop (0.6) and nearest-neighbour resizing, not 0.875 bilinear.
    from keras_resnets import pretrained, preprocess_images
    from keras_resnets.data.sources import load_split
    from keras_resnets.training import trainer

    hub_cache.publish("timm/resnet50.tv_in1k", "resnet_bottleneck",
                      timm_config("resnet50", input_size=32, crop_pct=0.6, interpolation="nearest", **IMAGENET_STATS))
    config = TrainConfig(model="resnet50", model_overrides=SMALL["resnet50"][1], weights="timm/resnet50.tv_in1k",
                         eval_only=True, eval_examples=8, batch_size=8, model_dir=str(tmp_path / "eval"), verbose=0)
    checkpoint = pretrained.pretrained_config("resnet50", "timm/resnet50.tv_in1k")
    images = next(iter(trainer._evaluation_data(config, checkpoint)))[0].numpy()
    raw = np.stack([image for image, _ in load_split("sample", "test", take=8)[0].as_numpy_iterator()])
    np.testing.assert_allclose(images, preprocess_images(raw, checkpoint), atol=1e-4)  # the one transform
    for other in (dict(crop_pct=0.875), dict(interpolation="bilinear")):  # either setting alone changes it
        assert np.abs(images - preprocess_images(raw, dataclasses.replace(checkpoint, **other))).mean() > 0.05

    # A run reads the checkpoint's config.json once, and its eval pipeline gets that crop and interpolation.
    reads, crops = [], []
    download, pipeline = pretrained.download, trainer.input_pipeline
    monkeypatch.setattr(pretrained, "download", lambda repo, name: reads.append(name) or download(repo, name))
    monkeypatch.setattr(trainer, "input_pipeline", lambda *a, **k: crops.append(
        (k.get("crop_pct"), k.get("interpolation"))) or pipeline(*a, **k))
    evaluate(config)
    assert reads.count("config.json") == 1 and crops == [(0.6, "nearest")]
    reads.clear()
    train(dataclasses.replace(config, eval_only=False, train_steps=1, train_examples=8,
                              model_dir=str(tmp_path / "run")))
    assert reads.count("config.json") == 1


def test_bad_transfer_settings_are_refused(tmp_path, hub_cache):
    publish_imagenet_checkpoint(hub_cache, "resnet50")
    config = dict(model="resnet50", model_overrides=SMALL["resnet50"][1], model_dir=str(tmp_path / "run"))
    with pytest.raises(ValueError, match=r"evaluates the classifier of timm/resnet50\.a1_in1k, which has 1000 classes"):
        evaluate(TrainConfig(**config, weights="imagenet", eval_only=True, eval_examples=8, verbose=0))
    with pytest.raises(ValueError, match=r"need --weights to start from"):
        TrainConfig(**config, freeze_backbone=True).validate()
    with pytest.raises(ValueError, match=r"timm publishes no ImageNet weights for 'resnet200'"):
        TrainConfig(model="resnet200", weights="imagenet").validate()
    with pytest.raises(ValueError, match=r"--backbone_learning_rate_multiplier must be a finite number >= 0"):
        TrainConfig(**config, weights="imagenet", backbone_learning_rate_multiplier=-1.0).validate()
