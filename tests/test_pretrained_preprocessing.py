"""The checkpoint's eval transform (resize the shorter side to size / crop_pct, centre crop, normalize) against a
numpy + PIL reference of timm's, with the numbers read from the checkpoint's config.json."""

import math

import numpy as np
import pytest
from PIL import Image

import keras_resnets
from keras_resnets.pretrained import PretrainedConfig
from tests.hub_cache import hub_cache, timm_config  # noqa: F401  (hub_cache is a fixture)

PIL_FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def timm_eval_reference(image, size, crop_pct, mean, std, interpolation):
    """timm's transforms_imagenet_eval as torchvision computes it on a PIL image."""
    scale = math.floor(size / crop_pct)
    height, width = image.shape[:2]
    if height <= width:
        new_height, new_width = scale, int(scale * width / height)
    else:
        new_height, new_width = int(scale * height / width), scale
    resized = np.asarray(Image.fromarray(image).resize((new_width, new_height), PIL_FILTERS[interpolation]),
                         np.float64)
    top, left = int(round((new_height - size) / 2)), int(round((new_width - size) / 2))
    crop = resized[top:top + size, left:left + size]
    return (crop / 255 - np.asarray(mean)) / np.asarray(std)


def smooth_image(height, width, seed=0):
    """A photo-like image (smooth shading, a few edges), where resampling filters agree to within rounding."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [np.sin(2 * np.pi * (rng.uniform(0.5, 1.5) * rows + rng.uniform(0.5, 1.5) * cols) + phase)
                for phase in rng.uniform(0, np.pi, 3)]
    image = (np.stack(channels, -1) + 1) * 127.5
    image[height // 3:height // 2, width // 4:width // 2] = (250, 20, 120)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def config(**changes):
    values = dict(repo_id="timm/x.y", architecture="x", num_classes=10, input_size=(48, 48), mean=(0.5, 0.4, 0.3),
                  std=(0.2, 0.25, 0.3), crop_pct=0.875, interpolation="bicubic", classifier="fc")
    return PretrainedConfig(**{**values, **changes})


@pytest.mark.parametrize("shape,interpolation", [((72, 96), "bicubic"), ((100, 64), "bilinear")])
def test_eval_transform_matches_timms(shape, interpolation):
    checkpoint = config(interpolation=interpolation)
    image = smooth_image(*shape)
    ours = keras_resnets.preprocess_images(image, checkpoint)[0]
    reference = timm_eval_reference(image, 48, 0.875, checkpoint.mean, checkpoint.std, interpolation)
    assert ours.shape == reference.shape == (48, 48, 3)
    # In pixel units: PIL rounds to uint8 and places the crop to the nearest pixel; the filters agree beyond that.
    pixel_error = np.abs(ours - reference) * np.asarray(checkpoint.std) * 255
    assert pixel_error.mean() < 1.0 and np.percentile(pixel_error, 99) < 4.0
    # Any other crop or statistics would be far off: a crop_pct of 1.0 takes a wider field of view.
    wider = timm_eval_reference(image, 48, 1.0, checkpoint.mean, checkpoint.std, interpolation)
    assert (np.abs(ours - wider) * np.asarray(checkpoint.std) * 255).mean() > 4 * pixel_error.mean()


def test_normalization_is_exact_at_the_models_size():
    checkpoint = config(crop_pct=1.0)
    image = np.random.default_rng(1).integers(0, 256, (48, 48, 3)).astype(np.uint8)
    ours = keras_resnets.preprocess_images(image, checkpoint)[0]
    expected = (image / 255 - np.asarray(checkpoint.mean)) / np.asarray(checkpoint.std)
    np.testing.assert_allclose(ours, expected, atol=2e-5)


def test_the_checkpoints_config_json_sets_the_transform(hub_cache):
    hub_cache.publish("timm/resnet50.a1_in1k", "resnet_bottleneck",
                      timm_config("resnet50", input_size=40, crop_pct=0.8, interpolation="bilinear"))
    layer = keras_resnets.preprocessing("resnet50")
    image = smooth_image(60, 80)
    ours = np.asarray(layer(image[None].astype("float32")))[0]
    reference = timm_eval_reference(image, 40, 0.8, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3), "bilinear")
    assert ours.shape == (40, 40, 3)
    assert (np.abs(ours - reference) * np.asarray((0.2, 0.25, 0.3)) * 255).mean() < 1.0


def test_the_layer_inside_a_model_takes_raw_pixels_of_any_size():
    keras = keras_resnets.backend.keras
    pixels = keras.Input(shape=(None, None, 3))
    model = keras.Model(pixels, keras.layers.GlobalAveragePooling2D()(keras_resnets.preprocessing(config())(pixels)))
    for shape in ((60, 90), (90, 60)):
        image = smooth_image(*shape)
        np.testing.assert_allclose(model(image[None].astype("float32"))[0],
                                   keras_resnets.preprocess_images(image, config())[0].mean(axis=(0, 1)), atol=1e-5)


def test_unknown_interpolation_and_bad_images_are_refused():
    with pytest.raises(ValueError, match=r"interpolation 'random'; allowed: \['area', 'bicubic'"):
        keras_resnets.preprocessing(config(interpolation="random"))
    with pytest.raises(ValueError, match=r"must be \[H, W, 3\] RGB pixels"):
        keras_resnets.preprocess_images(np.zeros((8, 8)), config())


@pytest.mark.parametrize("shape,interpolation,crop_pct", [((72, 96), "bicubic", 0.95), ((100, 64), "nearest", 0.6),
                                                          ((48, 48), "bilinear", 0.875)])
def test_the_input_pipelines_imagenet_evaluation_is_the_same_transform(shape, interpolation, crop_pct):
    # What the training app evaluates a checkpoint with (tf.data) is what keras_resnets.preprocessing computes.
    from keras_resnets.data import augment

    checkpoint = config(interpolation=interpolation, crop_pct=crop_pct)
    image = smooth_image(*shape)
    mean, std = checkpoint.pixel_normalization
    transform = augment.make_transform("imagenet", training=False, image_size=(48, 48), mean=mean, std=std,
                                       crop_pct=crop_pct, interpolation=interpolation)
    np.testing.assert_allclose(np.asarray(transform(image)), keras_resnets.preprocess_images(image, checkpoint)[0],
                               atol=1e-4)
