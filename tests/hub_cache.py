"""A local Hugging Face hub cache holding timm fixtures as checkpoints, read offline by `huggingface_hub` itself.

The layout is the library's own (`models--<org>--<name>/refs/main` naming a snapshot that holds the files); with
`HF_HUB_OFFLINE`, `hf_hub_download` serves files from it exactly as it serves a real download's cache.
"""

import json
import shutil

import pytest

from tests.timm_fixtures import FIXTURES

SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"  # a commit hash, as the hub names snapshots


def timm_config(architecture, num_classes=10, input_size=64, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3),
                crop_pct=0.875, interpolation="bicubic", classifier="fc"):
    """A `config.json` as timm writes it to the hub (non-ImageNet statistics, so a test sees they are read)."""
    pretrained_cfg = dict(input_size=[3, input_size, input_size], interpolation=interpolation, crop_pct=crop_pct,
                          crop_mode="center", mean=list(mean), std=list(std), num_classes=num_classes,
                          first_conv="conv1", classifier=classifier)
    return dict(architecture=architecture, num_classes=num_classes, pretrained_cfg=pretrained_cfg)


class HubCache:
    def __init__(self, root):
        self.root = root

    def publish(self, repo_id, fixture, config, tensors=None):
        """Places the fixture's `.safetensors` (or `tensors`, a state dict) and `config` as the checkpoint
        `repo_id`."""
        repository = self.root / f"models--{repo_id.replace('/', '--')}"
        (repository / "refs").mkdir(parents=True, exist_ok=True)
        (repository / "refs" / "main").write_text(SNAPSHOT)
        snapshot = repository / "snapshots" / SNAPSHOT
        snapshot.mkdir(parents=True, exist_ok=True)
        if tensors is None:
            shutil.copyfile(FIXTURES / f"{fixture}.safetensors", snapshot / "model.safetensors")
        else:
            from safetensors.numpy import save_file

            save_file(tensors, str(snapshot / "model.safetensors"))
        (snapshot / "config.json").write_text(json.dumps(config))
        return snapshot


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty offline hub cache: what tests publish into it is all `huggingface_hub` can find."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return HubCache(tmp_path / "hub")


def timm_state_dict(model, mapping):
    """`model`'s weights as the timm state dict that `mapping` loads back onto it (conv kernels as
    [out, in, kh, kw], dense as [out, in]): a full-size checkpoint of a registered model, made without timm."""
    import numpy as np

    from keras_resnets.graph import flatten
    from keras_resnets.timm_weights import _layer_tensors

    tensors = {}
    for layer in flatten(model).layers:
        if not layer.weights:
            continue
        for (key, converter), value in zip(_layer_tensors(layer, mapping(layer.name)), layer.get_weights()):
            if converter is not None:  # the loader's layout conversion, inverted
                value = value.T if value.ndim == 2 else np.transpose(value, (3, 2, 0, 1))
            tensors[key] = np.ascontiguousarray(value, np.float32)
    return tensors
