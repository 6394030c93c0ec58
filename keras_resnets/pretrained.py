"""Pretrained timm checkpoints from the Hugging Face hub: `weights="imagenet"` or `weights="timm/<model>.<tag>"`.

A checkpoint is a hub repository `timm/<model>.<tag>` holding `model.safetensors` (the timm state dict, loaded
through the family's timm mapping) and `config.json` (timm's `pretrained_cfg`: class count, input size, mean/std,
crop fraction, interpolation). Downloads go through `huggingface_hub`, so its cache, resumed downloads,
`HF_HUB_OFFLINE`, `HF_HUB_CACHE` and a token from the environment (`HF_TOKEN`, `hf auth login`) all apply.
"""

import dataclasses
import json

from keras_resnets.timm_weights import load_timm_state_dict, read_safetensors

HUB_PREFIX = "timm/"
IMAGENET = "imagenet"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

# The ImageNet-1k checkpoints timm 1.0.31 publishes for each registered model (its `default_cfgs`); the first
# is timm's default, the one `weights="imagenet"` loads. Registered models absent here have no timm weights.
PUBLISHED = {
    "res2net101_26w_4s": ("in1k",),
    "res2net50_14w_8s": ("in1k",),
    "res2net50_26w_4s": ("in1k",),
    "res2net50_26w_6s": ("in1k",),
    "res2net50_26w_8s": ("in1k",),
    "res2net50_48w_2s": ("in1k",),
    "res2net50d": ("in1k",),
    "res2next50": ("in1k",),
    "resnet101": ("a1h_in1k", "a1_in1k", "a2_in1k", "a3_in1k", "tv_in1k", "tv2_in1k", "gluon_in1k"),
    "resnet101d": ("ra2_in1k", "gluon_in1k"),
    "resnet152": ("a1h_in1k", "a1_in1k", "a2_in1k", "a3_in1k", "tv_in1k", "tv2_in1k", "gluon_in1k"),
    "resnet152d": ("ra2_in1k", "gluon_in1k"),
    "resnet18": ("a1_in1k", "a2_in1k", "a3_in1k", "tv_in1k", "fb_ssl_yfcc100m_ft_in1k", "fb_swsl_ig1b_ft_in1k",
                 "gluon_in1k"),
    "resnet18d": ("ra2_in1k", "ra4_e3600_r224_in1k"),
    "resnet34": ("a1_in1k", "a2_in1k", "a3_in1k", "bt_in1k", "ra4_e3600_r224_in1k", "tv_in1k", "gluon_in1k"),
    "resnet50": ("a1_in1k", "a1h_in1k", "a2_in1k", "a3_in1k", "b1k_in1k", "b2k_in1k", "c1_in1k", "c2_in1k",
                 "d_in1k", "ram_in1k", "am_in1k", "ra_in1k", "bt_in1k", "tv_in1k", "tv2_in1k",
                 "fb_ssl_yfcc100m_ft_in1k", "fb_swsl_ig1b_ft_in1k", "gluon_in1k"),
    "resnet50d": ("ra2_in1k", "ra4_e3600_r224_in1k", "a1_in1k", "a2_in1k", "a3_in1k", "gluon_in1k"),
    "resnetv2_101": ("a1h_in1k",),
    "resnetv2_18": ("ra4_e3600_r224_in1k",),
    "resnetv2_34": ("ra4_e3600_r224_in1k",),
    "resnetv2_50": ("a1h_in1k",),
    "resnext101_32x4d": ("fb_ssl_yfcc100m_ft_in1k", "fb_swsl_ig1b_ft_in1k", "gluon_in1k"),
    "resnext101_32x8d": ("tv_in1k", "tv2_in1k", "fb_wsl_ig1b_ft_in1k", "fb_ssl_yfcc100m_ft_in1k",
                         "fb_swsl_ig1b_ft_in1k"),
    "resnext101_64x4d": ("c1_in1k", "tv_in1k", "gluon_in1k"),
    "resnext50_32x4d": ("a1h_in1k", "a1_in1k", "a2_in1k", "a3_in1k", "ra_in1k", "tv_in1k", "tv2_in1k",
                        "fb_ssl_yfcc100m_ft_in1k", "fb_swsl_ig1b_ft_in1k", "gluon_in1k"),
    "resnext50d_32x4d": ("bt_in1k",),
    "rexnet_100": ("nav_in1k",),
    "rexnet_130": ("nav_in1k",),
    "rexnet_150": ("nav_in1k",),
    "rexnet_200": ("nav_in1k",),
    "rexnet_300": ("nav_in1k",),
    "seresnet50": ("a1_in1k", "a2_in1k", "a3_in1k", "ra2_in1k"),
    "seresnext101_32x4d": ("gluon_in1k",),
    "seresnext50_32x4d": ("racm_in1k", "gluon_in1k"),
    "wide_resnet101_2": ("tv_in1k", "tv2_in1k"),
    "wide_resnet50_2": ("racm_in1k", "tv_in1k", "tv2_in1k"),
}


@dataclasses.dataclass(frozen=True)
class PretrainedConfig:
    """What a checkpoint's `config.json` says about its weights (timm's `pretrained_cfg`)."""

    repo_id: str
    architecture: str
    num_classes: int
    input_size: tuple  # (height, width)
    mean: tuple  # per channel, in 0..1 units
    std: tuple
    crop_pct: float
    interpolation: str
    classifier: str  # timm module prefix of the classifier ("fc", "head.fc")

    @property
    def pixel_normalization(self):
        """(mean, std) per channel in 0..255 units, as the input pipeline and TFLite preprocessing folding take."""
        return tuple(255 * value for value in self.mean), tuple(255 * value for value in self.std)

    @property
    def eval_crop(self):
        """The centre-crop fraction and interpolation of its eval transform, as the input pipeline takes them."""
        return dict(crop_pct=self.crop_pct, interpolation=self.interpolation)

    @classmethod
    def from_json(cls, repo_id, config):
        pretrained = config.get("pretrained_cfg", config)
        try:
            _, height, width = pretrained["input_size"]
            return cls(
                repo_id=repo_id,
                architecture=config.get("architecture", repo_id.removeprefix(HUB_PREFIX).split(".")[0]),
                num_classes=int(config.get("num_classes", pretrained.get("num_classes"))),
                input_size=(int(height), int(width)),
                mean=tuple(float(value) for value in pretrained["mean"]),
                std=tuple(float(value) for value in pretrained["std"]),
                crop_pct=float(pretrained.get("crop_pct", 1.0)),
                interpolation=str(pretrained.get("interpolation", "bilinear")),
                classifier=str(pretrained.get("classifier", "fc")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"The {CONFIG_FILE} of {repo_id} is not a timm pretrained config "
                             f"(input_size, mean, std and num_classes are needed): {error!r}.") from None


def is_hub_weights(weights):
    """Whether `weights` names a hub checkpoint (or is one already resolved, a `PretrainedConfig`) rather than a
    file."""
    if isinstance(weights, PretrainedConfig):
        return True
    return isinstance(weights, str) and (weights == IMAGENET or weights.startswith(HUB_PREFIX))


def checkpoint_id(weights, model_name):
    """The hub repository of `weights` ("imagenet", "timm/<model>.<tag>" or a `PretrainedConfig`) for the model
    `model_name`."""
    if isinstance(weights, PretrainedConfig):
        return weights.repo_id
    if weights == IMAGENET:
        if model_name not in PUBLISHED:
            raise ValueError(_no_imagenet_weights(model_name))
        return f"{HUB_PREFIX}{model_name}.{PUBLISHED[model_name][0]}"
    architecture, _, tag = weights.removeprefix(HUB_PREFIX).partition(".")
    if not architecture or not tag:
        raise ValueError(f"weights {weights!r} must name a timm checkpoint as 'timm/<model>.<tag>' "
                         f"(e.g. 'timm/resnet50.a1_in1k'), or be 'imagenet' or the path of a weights file.")
    if _registered(model_name) and architecture != model_name:
        raise ValueError(f"weights {weights!r} are a checkpoint of {architecture}, not of {model_name}; "
                         f"its checkpoints are {_listing(model_name) or 'none (timm publishes no weights for it)'}.")
    return weights


def _registered(model_name):
    from keras_resnets.models.registry import list_models

    return model_name in list_models()


def _no_imagenet_weights(model_name):
    if _registered(model_name):
        reason = f"timm publishes no ImageNet weights for {model_name!r}"
    else:
        reason = (f"weights='imagenet' picks the checkpoint by the model's registered name, and {model_name!r} is "
                  f"not one (use create_model(<name>, weights='imagenet'), or name=<registered name>)")
    return (f"{reason}. Models with ImageNet weights: {', '.join(sorted(PUBLISHED))}; "
            f"or pass weights='timm/<model>.<tag>' or the path of a weights file.")


def _listing(model_name):
    return ", ".join(f"{HUB_PREFIX}{model_name}.{tag}" for tag in PUBLISHED.get(model_name, ()))


def download(repo_id, filename):
    """The local path of `filename` in the hub repository `repo_id` (downloaded once, then from the cache)."""
    from huggingface_hub import errors, hf_hub_download

    try:
        return hf_hub_download(repo_id, filename)
    except errors.RepositoryNotFoundError:
        architecture = repo_id.removeprefix(HUB_PREFIX).split(".")[0]
        known = f" Published checkpoints of {architecture}: {_listing(architecture)}." if architecture in PUBLISHED \
            else f" timm publishes ImageNet weights for: {', '.join(sorted(PUBLISHED))}."
        raise ValueError(f"There is no checkpoint {repo_id!r} on the Hugging Face hub.{known}") from None
    except errors.LocalEntryNotFoundError as error:
        raise ValueError(_offline_help(repo_id, filename, error) + _unknown_tag_hint(repo_id)) from None
    except errors.EntryNotFoundError:
        raise ValueError(f"The hub repository {repo_id!r} has no {filename}; it is not a timm checkpoint.") from None
    except (errors.HfHubHTTPError, OSError) as error:  # network failures, an unwritable cache
        raise ValueError(_offline_help(repo_id, filename, error)) from None


def _offline_help(repo_id, filename, error):
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (f"Cannot get {filename} of {repo_id} from the Hugging Face hub or its local cache ({reason}). "
            f"Without a network: on a machine that has one, run `hf download {repo_id} {WEIGHTS_FILE} "
            f"{CONFIG_FILE}` and copy its cache folder models--{repo_id.replace('/', '--')} into this machine's "
            f"HF_HUB_CACHE (~/.cache/huggingface/hub by default), or download "
            f"https://huggingface.co/{repo_id}/resolve/main/{WEIGHTS_FILE} and pass weights=<that file's path>.")


def _unknown_tag_hint(repo_id):
    """A word on a tag that timm does not publish: offline, the hub cannot say that the repository is missing."""
    architecture, _, tag = repo_id.removeprefix(HUB_PREFIX).partition(".")
    if tag in PUBLISHED.get(architecture, (tag,)):
        return ""
    known = _listing(architecture) or f"none; timm publishes ImageNet weights for {', '.join(sorted(PUBLISHED))}"
    return f" Note that timm publishes no checkpoint {repo_id!r}; those of {architecture} are: {known}."


def pretrained_config(model_name, weights=IMAGENET):
    """The `PretrainedConfig` of a checkpoint: `weights` is "imagenet" (for the registered `model_name`) or
    "timm/<model>.<tag>", read from its config.json; a `PretrainedConfig` is returned as it is.

    A program that needs the checkpoint's settings and its model reads the config once and passes the result on
    as `weights` (`create_model(name, weights=config)`): the builders load the tensors without reading it again.
    """
    if isinstance(weights, PretrainedConfig):
        return weights
    repo_id = checkpoint_id(weights, model_name)
    path = download(repo_id, CONFIG_FILE)
    try:
        with open(path) as file:
            config = json.load(file)
    except (OSError, ValueError) as error:
        raise ValueError(f"The {CONFIG_FILE} of {repo_id} ({path}) cannot be read as JSON: {error}.") from None
    return PretrainedConfig.from_json(repo_id, config)


def load_pretrained(model, weights, timm_mapping, *, include_top, classes):
    """Loads the hub checkpoint `weights` (a name, or its `PretrainedConfig`) into `model` (built as the registered
    model `model.name`) and returns its `PretrainedConfig`. Without the top, everything but the classifier (and a
    head conv only the top uses) is loaded; with it, `classes` must be the checkpoint's class count."""
    config = pretrained_config(model.name, weights)
    if _registered(model.name) and config.architecture != model.name:
        raise ValueError(f"The checkpoint {config.repo_id} holds a {config.architecture}, not a {model.name}.")
    if timm_mapping is None:
        raise ValueError(f"{model.name} has no timm weight mapping; it cannot load {config.repo_id}.")
    if include_top and classes != config.num_classes:
        raise ValueError(
            f"classes={classes} conflicts with include_top=True and the {config.num_classes}-class weights "
            f"{config.repo_id}: pass classes={config.num_classes}, or include_top=False to load the backbone and add "
            f"your own {classes}-class head (the training app's --weights does this for a dataset's classes).")
    state_dict = read_safetensors(download(config.repo_id, WEIGHTS_FILE))
    if not include_top:
        state_dict = _backbone_tensors(model, state_dict, timm_mapping, config.classifier)
    load_timm_state_dict(model, state_dict, timm_mapping)
    return config


def _backbone_tensors(model, state_dict, mapping, classifier):
    """The tensors of modules that `model` (built without the top) has, less the classifier's; what is missing
    from the file is still an error in the load."""
    from keras_resnets.graph import flatten

    prefixes = {mapping(layer.name) for layer in flatten(model).layers if layer.weights}
    return {key: value for key, value in state_dict.items()
            if key.rsplit(".", 1)[0] in prefixes and not key.startswith(f"{classifier}.")}


def pretrained_model(model_name, weights, input_size=None):
    """The registered model `model_name` with `weights` (anything the builders take), built at `input_size`
    (default: a hub checkpoint's own resolution, else the registry's), returning probabilities."""
    from keras_resnets.models.registry import create_model

    if input_size is None and is_hub_weights(weights):
        weights = pretrained_config(model_name, weights)  # passed on resolved: its config.json is read once
        input_size = weights.input_size[0]
    shape = {"input_shape": (input_size, input_size, 3)} if input_size else {}
    return create_model(model_name, weights=weights, **shape)
