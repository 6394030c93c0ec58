"""`weights="imagenet"` and `weights="timm/<model>.<tag>"`: resolved, downloaded through huggingface_hub (here from
an offline cache holding the small timm fixtures) and loaded, with one clear error for every way it can fail."""

import numpy as np
import pytest

import keras_resnets
from keras_resnets.pretrained import PUBLISHED, checkpoint_id, pretrained_config
from tests.hub_cache import hub_cache, timm_config  # noqa: F401  (hub_cache is a fixture)
from tests.timm_fixtures import load_fixture

TOLERANCE = 1e-4
# One registered model per family, with the fixture of its architecture and timm's classifier name.
FAMILIES = {
    "resnet50": ("resnet_bottleneck", "fc"),
    "resnetv2_50": ("resnetv2_bottleneck", "head.fc"),
    "seresnet50": ("seresnet", "fc"),
    "resnext50_32x4d": ("resnext", "fc"),
    "wide_resnet50_2": ("wide_resnet", "fc"),
    "res2net50_26w_4s": ("res2net", "fc"),
    "rexnet_100": ("rexnet_100", "head.fc"),
}


def publish_default(hub_cache, name, **config):
    fixture, classifier = FAMILIES[name]
    repo_id = f"timm/{name}.{PUBLISHED[name][0]}"
    hub_cache.publish(repo_id, fixture, timm_config(name, classifier=classifier, **config))
    return repo_id


def fixture_builder(name, **overrides):
    """Builds the fixture-sized architecture of the registered `name`, under that name (which picks the
    checkpoint), with the fixture's head: 10 logits."""
    _, builder, kwargs, inputs, logits, path = load_fixture(FAMILIES[name][0])
    kwargs.update(overrides)
    model = getattr(keras_resnets, builder)(input_shape=inputs.shape[1:], name=name, **kwargs)
    return model, inputs, logits, path


@pytest.mark.parametrize("name", list(FAMILIES))
def test_imagenet_weights_of_every_family_load_from_the_hub_cache(hub_cache, name):
    publish_default(hub_cache, name)
    model, inputs, timm_logits, path = fixture_builder(name, weights="imagenet")
    local, *_ = fixture_builder(name, weights=path)
    ours = np.asarray(model(inputs, training=False))
    np.testing.assert_array_equal(ours, np.asarray(local(inputs, training=False)))
    assert np.max(np.abs(ours - timm_logits)) <= TOLERANCE


def test_default_checkpoints_are_timms():
    assert checkpoint_id("imagenet", "resnet50") == "timm/resnet50.a1_in1k"
    assert checkpoint_id("imagenet", "rexnet_100") == "timm/rexnet_100.nav_in1k"
    assert checkpoint_id("imagenet", "resnet50d") == "timm/resnet50d.ra2_in1k"
    assert checkpoint_id("timm/resnet50.tv_in1k", "resnet50") == "timm/resnet50.tv_in1k"
    registered = set(keras_resnets.list_models())
    assert set(PUBLISHED) <= registered  # every table entry is a model one can build


def test_create_model_loads_a_named_tag_and_reads_its_config(hub_cache):
    hub_cache.publish("timm/resnet50.tv_in1k", "resnet_bottleneck", timm_config("resnet50", crop_pct=0.9))
    _, _, kwargs, inputs, timm_logits, _ = load_fixture("resnet_bottleneck")
    model = keras_resnets.create_model("resnet50", input_shape=inputs.shape[1:], weights="timm/resnet50.tv_in1k",
                                       **kwargs)
    assert np.max(np.abs(np.asarray(model(inputs, training=False)) - timm_logits)) <= TOLERANCE
    config = pretrained_config("resnet50", "timm/resnet50.tv_in1k")
    assert (config.num_classes, config.input_size, config.crop_pct) == (10, (64, 64), 0.9)
    assert (config.mean, config.std, config.interpolation) == ((0.5, 0.4, 0.3), (0.2, 0.25, 0.3), "bicubic")
    mean, std = config.pixel_normalization  # what the training pipeline and TFLite folding take (0..255 units)
    np.testing.assert_allclose([mean, std], [(127.5, 102.0, 76.5), (51.0, 63.75, 76.5)])


@pytest.mark.parametrize("name", ["resnet50", "rexnet_100"])
def test_without_the_top_everything_but_the_classifier_loads(hub_cache, name):
    publish_default(hub_cache, name)
    backbone, inputs, _, path = fixture_builder(name, weights="imagenet", include_top=False, pooling="avg")
    full, *_ = fixture_builder(name, weights=path)
    # The full model's pooled features (the classifier's input) are the backbone's output.
    features = keras_resnets.backend.keras.Model(full.input, full.get_layer("predictions").input)
    np.testing.assert_allclose(backbone(inputs, training=False), features(inputs, training=False), atol=1e-6)


def test_classes_that_conflict_with_the_checkpoint_are_refused(hub_cache):
    publish_default(hub_cache, "resnet50")
    with pytest.raises(ValueError, match=r"classes=7 conflicts with include_top=True and the 10-class weights "
                                         r"timm/resnet50\.a1_in1k.*include_top=False"):
        fixture_builder("resnet50", weights="imagenet", classes=7)


def test_weights_of_another_architecture_are_refused(hub_cache):
    hub_cache.publish("timm/resnet50.a1_in1k", "resnet_bottleneck", timm_config("resnet101"))
    with pytest.raises(ValueError, match=r"holds a resnet101, not a resnet50"):
        fixture_builder("resnet50", weights="imagenet")
    with pytest.raises(ValueError, match=r"checkpoint of resnet101, not of resnet50.*timm/resnet50\.a1_in1k"):
        fixture_builder("resnet50", weights="timm/resnet101.a1h_in1k")
    # A checkpoint whose tensors do not fit is named by the loader, tensor by tensor.
    hub_cache.publish("timm/resnet50.a1_in1k", "resnet_basic", timm_config("resnet50"))
    with pytest.raises(ValueError, match=r"The timm weights do not match resnet50"):
        fixture_builder("resnet50", weights="imagenet")


def test_unknown_names_and_tags_say_what_exists(hub_cache):
    with pytest.raises(ValueError, match=r"timm publishes no ImageNet weights for 'resnet200'.*resnet50"):
        keras_resnets.create_model("resnet200", weights="imagenet")
    with pytest.raises(ValueError, match=r"'cifar_model' is not one .*create_model"):
        checkpoint_id("imagenet", "cifar_model")
    with pytest.raises(ValueError, match=r"must name a timm checkpoint as 'timm/<model>.<tag>'"):
        checkpoint_id("timm/resnet50", "resnet50")
    with pytest.raises(ValueError, match=r"no checkpoint 'timm/resnet50\.bogus'.*timm/resnet50\.tv_in1k"):
        fixture_builder("resnet50", weights="timm/resnet50.bogus")


def test_no_network_and_no_cache_says_which_file_to_place_where(hub_cache):
    with pytest.raises(ValueError, match=r"hf download timm/resnet50\.a1_in1k model\.safetensors config\.json.*"
                                         r"models--timm--resnet50\.a1_in1k.*weights=<that file's path>"):
        fixture_builder("resnet50", weights="imagenet")
