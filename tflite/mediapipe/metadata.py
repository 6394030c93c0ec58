"""MediaPipe ImageClassifier metadata for an image-classification `.tflite` (labels, input normalization, descriptions).

Runs in the MediaPipe environment (tflite/mediapipe/requirements.txt), which cannot hold TensorFlow 2.21 or
keras_resnets: this module imports only mediapipe (its metadata writer and flatbuffer schema) and the standard
library.

What MediaPipe's ImageClassifier needs from the model and its metadata:
  - one input of shape [1, H, W, 3], uint8 or float32, RGB;
  - float32 input: normalization options in the metadata, `(pixel - mean) / std` with ONE mean and ONE std for all
    channels (per-channel normalization, e.g. ImageNet's, must be folded into the model);
  - uint8 input: raw pixels 0..255 go in as they are; no normalization options are written;
  - one output of shape [1, num_classes] (float32 scores, or uint8 quantized scores), with a label file of
    num_classes lines.
"""

import os
from typing import Optional, Sequence, Union

from mediapipe.tasks.metadata import schema_py_generated as schema_fb
from mediapipe.tasks.python.metadata.metadata_writers import image_classifier, metadata_info, metadata_writer

_INPUT_TYPES = {schema_fb.TensorType.FLOAT32: "float32", schema_fb.TensorType.UINT8: "uint8"}
_OUTPUT_TYPES = {schema_fb.TensorType.FLOAT32: "float32", schema_fb.TensorType.UINT8: "uint8"}


class MetadataError(ValueError):
    """The model, the labels or the normalization cannot make a MediaPipe ImageClassifier model."""


class _Writer(metadata_writer.MetadataWriter):
    """mediapipe's generic writer, with the version and author that its add_general_info leaves out."""

    def add_general_info(self, model_name, model_description=None, version=None, author=None):
        self._general_md = metadata_info.GeneralMd(name=model_name, description=model_description,
                                                   version=version, author=author)
        return self


def _tensor_summary(subgraph, index):
    tensor = subgraph.Tensors(index)
    shape = [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
    return tensor.Name().decode("utf-8"), shape, tensor.Type()


def read_signature(model_buffer):
    """((input name, shape, type), (output name, shape, type)) of a one-input, one-output `.tflite` flatbuffer."""
    if len(model_buffer) < 8 or not schema_fb.Model.ModelBufferHasIdentifier(model_buffer, 0):
        raise MetadataError("not a TFLite flatbuffer (the file identifier 'TFL3' is missing).")
    model = schema_fb.Model.GetRootAsModel(model_buffer, 0)
    if model.SubgraphsLength() != 1:
        raise MetadataError(f"expected a model with one subgraph, found {model.SubgraphsLength()}.")
    subgraph = model.Subgraphs(0)
    if subgraph.InputsLength() != 1 or subgraph.OutputsLength() != 1:
        raise MetadataError("an image classifier needs exactly one input and one output tensor; this model has "
                            f"{subgraph.InputsLength()} inputs and {subgraph.OutputsLength()} outputs.")
    return _tensor_summary(subgraph, subgraph.Inputs(0)), _tensor_summary(subgraph, subgraph.Outputs(0))


def _type_name(tensor_type):
    names = {value: key for key, value in vars(schema_fb.TensorType).items() if not key.startswith("_")}
    return names.get(tensor_type, str(tensor_type)).lower()


def _read_labels(labels):
    if isinstance(labels, (str, os.PathLike)):
        with open(labels, encoding="utf-8") as f:
            labels = [line.rstrip("\r\n") for line in f]
        while labels and not labels[-1].strip():  # a trailing newline is not a class
            labels.pop()
    labels = [str(label) for label in labels]
    blank = [i for i, label in enumerate(labels) if not label.strip()]
    if blank:
        raise MetadataError(f"labels must not be blank; blank at line(s) {[i + 1 for i in blank]}.")
    return labels


def _scalar(name, value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise MetadataError(
                f"{name} must be one number for all channels (MediaPipe's ImageClassifier applies a single "
                f"mean/std); got {list(value)}. Fold per-channel normalization into the model instead.")
        value = value[0]
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MetadataError(f"{name} must be a number, got {value!r}.") from None


def write_metadata(tflite_path: Union[str, os.PathLike], labels: Union[str, os.PathLike, Sequence[str]],
                   output_path: Union[str, os.PathLike], *, mean: Optional[float] = None,
                   std: Optional[float] = None, name: str, description: Optional[str] = None,
                   version: Optional[str] = None, author: Optional[str] = None) -> str:
    """Writes `tflite_path` with MediaPipe ImageClassifier metadata to `output_path`; returns the metadata as JSON.

    Args:
        tflite_path: a classifier with one [1,H,W,3] uint8 or float32 input and one [1,num_classes] output.
        labels: a label file (one class name per line) or a sequence of class names; num_classes entries.
        output_path: where the model with metadata goes (may equal `tflite_path`).
        mean, std: float32 input only, and then required: MediaPipe feeds `(pixel - mean) / std` with pixels in
            0..255 and one value for all channels (mean=0, std=1 for a model that takes raw pixels). A uint8 input
            takes raw pixels and must not have them.
        name, description, version, author: the model's general metadata.

    Raises:
        MetadataError: with one message saying what is wrong, and what is allowed.
    """
    if not name or not str(name).strip():
        raise MetadataError("name must be a non-empty string.")
    try:
        with open(tflite_path, "rb") as f:
            model_buffer = bytearray(f.read())
    except OSError as error:
        raise MetadataError(f"cannot read the model {tflite_path}: {error.strerror}.") from None
    (in_name, in_shape, in_type), (out_name, out_shape, out_type) = read_signature(model_buffer)

    if len(in_shape) != 4 or in_shape[0] != 1 or in_shape[3] != 3 or min(in_shape) < 1:
        raise MetadataError(f"MediaPipe's ImageClassifier needs an input of shape [1, H, W, 3] (one RGB image); "
                            f"input '{in_name}' has shape {in_shape}.")
    if in_type not in _INPUT_TYPES:
        raise MetadataError(f"MediaPipe's ImageClassifier needs a uint8 or float32 input; input '{in_name}' is "
                            f"{_type_name(in_type)}.")
    if out_type not in _OUTPUT_TYPES:
        raise MetadataError(f"the output must be float32 or uint8 scores; output '{out_name}' is "
                            f"{_type_name(out_type)}.")
    if len(out_shape) != 2 or out_shape[0] != 1:
        raise MetadataError(f"the output must have shape [1, num_classes]; output '{out_name}' has shape {out_shape}.")
    num_classes = out_shape[1]

    try:
        labels = _read_labels(labels)
    except OSError as error:
        raise MetadataError(f"cannot read the labels file {labels}: {error.strerror}.") from None
    if len(labels) != num_classes:
        raise MetadataError(f"{len(labels)} labels for a model with {num_classes} classes (output '{out_name}' has "
                            f"shape {out_shape}); give exactly one label per class.")

    mean, std = _scalar("mean", mean), _scalar("std", std)
    if in_type == schema_fb.TensorType.FLOAT32:
        if mean is None or std is None:
            raise MetadataError("a float32 input needs mean and std (MediaPipe feeds (pixel - mean) / std, pixels "
                                "0..255; use mean=0, std=1 if the model takes raw pixels).")
        if not std > 0:
            raise MetadataError(f"std must be > 0, got {std}.")
        norm_mean, norm_std = [mean], [std]
        input_description = (f"RGB image {in_shape[1]}x{in_shape[2]}, float32, (pixel - {mean:g}) / {std:g} "
                              f"with pixels 0..255.")
    else:
        if mean is not None or std is not None:
            raise MetadataError("a uint8 input takes raw pixels 0..255, so mean and std do not apply; leave them "
                                "out (any normalization belongs inside the model).")
        norm_mean = norm_std = None
        input_description = f"RGB image {in_shape[1]}x{in_shape[2]}, uint8, raw pixels 0..255."

    writer = _Writer(model_buffer)
    writer.add_general_info(str(name), description, version, author)
    writer.add_image_input(norm_mean, norm_std, name="image", description=input_description)
    writer.add_classification_output(metadata_writer.Labels().add(labels), name="scores",
                                     description=f"Scores of the {num_classes} classes.")
    content, metadata_json = image_classifier.MetadataWriter(writer).populate()

    output_path = os.fspath(output_path)
    temporary = output_path + ".tmp"
    with open(temporary, "wb") as f:
        f.write(content)
    os.replace(temporary, output_path)
    return metadata_json
