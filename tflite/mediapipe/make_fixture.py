"""Makes the fixture of test_mediapipe.py: CIFAR-10 ResNet-20 `.tflite` classifiers with raw-pixel inputs, and what
LiteRT answers for real CIFAR-10 test images. Runs in the MAIN environment (TensorFlow + keras_resnets):

    python tflite/mediapipe/make_fixture.py [--model=/path/model.keras] [--data_dir=...] [--num_images=200]

Writes into tflite/mediapipe/fixture/ (no metadata; test_mediapipe.py adds it in the MediaPipe environment):

    cifar10_resnet20_float32.tflite  float32 [1,32,32,3] input, raw pixels 0..255 (metadata: mean 0, std 1)
    cifar10_resnet20_uint8.tflite    uint8 [1,32,32,3] input, float weights (a CAST in front)
    cifar10_resnet20_int8.tflite     full-integer PTQ, uint8 input (raw pixels), uint8 output
    labels.txt                       one class name per line
    expected.npz                     indices, labels, pixel digests, LiteRT top-1 and scores for each model
    fixture.json                     provenance

All three models compute softmax(model(normalize(pixels))): the CIFAR-10 per-channel mean/std of
keras_resnets/data/augment.py is folded into the graph, because MediaPipe's ImageClassifier only knows one mean/std
for all channels. The softmax makes MediaPipe's scores probabilities. Conversion is the package's
`keras_resnets.export.convert(..., preprocessing=(mean, std))`.
"""

import argparse
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the repository root, for keras_resnets

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras  # noqa: E402
import keras_resnets  # noqa: E402,F401  (registers the custom layers for loading)
from keras_resnets.data import augment  # noqa: E402
from keras_resnets.export import convert, operator_names, predict, with_preprocessing  # noqa: E402

DEFAULT_MODEL = "runs/cifar10_resnet20/model.keras"  # a CIFAR-10 ResNet-20 trained by apps/train.py
DEFAULT_DATA = os.environ.get("CIFAR10_DIR", "/path/to/cifar10")
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def load_or_train(path, workdir):
    if path and os.path.exists(path):
        return keras.saving.load_model(path, compile=False), path
    # No trained model: a few steps on the package's embedded sample (accuracy will be low; the test only
    # compares MediaPipe with LiteRT, which holds for any weights).
    from keras_resnets.training import TrainConfig, train

    model_dir = os.path.join(workdir, "fixture_train")
    train(TrainConfig(model="resnet20", dataset="sample", epochs=1, batch_size=64, model_dir=model_dir, seed=0,
                      verbose=2))
    trained = os.path.join(model_dir, "model.keras")
    return keras.saving.load_model(trained, compile=False), f"trained: {trained}"


def with_softmax(model):
    probabilities = keras.layers.Softmax(name="probabilities")(model.outputs[0])
    return keras.Model(model.inputs, probabilities, name=f"{model.name}_softmax")


def package_flatbuffers(model, mean, std, calibration):
    """keras model on raw float pixels, {kind: flatbuffer}, made by keras_resnets.export.convert."""
    model = with_softmax(model)
    preprocessing = (mean, std)
    return with_preprocessing(model, mean, std), {
        "float32": convert(model, "float32", preprocessing=preprocessing),
        "uint8": convert(model, "float32", preprocessing=preprocessing, io_type="uint8"),
        "int8": convert(model, "int8", preprocessing=preprocessing, io_type="uint8", calibration=calibration),
    }


def litert_scores(content, images):
    """LiteRT outputs for raw-pixel `images` (one batch-1 invoke each), as float32, and the output's dtype."""
    from keras_resnets.export.litert import io_details

    return predict(content, images), io_details(content)["output"]["dtype"]


def read_split(data_dir, split, count):
    features = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
    dataset = tf.data.TFRecordDataset(os.path.join(data_dir, f"{split}.tfrecord")).take(count)
    images, labels = [], []
    for record in dataset:
        example = tf.io.parse_single_example(record, features)
        # INTEGER_ACCURATE: the pixels PIL and OpenCV decode (checked); the default, INTEGER_FAST, differs by up to 4.
        images.append(tf.io.decode_jpeg(example["image"], channels=3, dct_method="INTEGER_ACCURATE").numpy())
        labels.append(int(example["label"]))
    return np.stack(images), np.asarray(labels, np.int64)


def pixel_digest(image):
    return hashlib.sha1(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="trained CIFAR-10 model (.keras); missing: train one")
    parser.add_argument("--data_dir", default=DEFAULT_DATA, help="CIFAR-10 TFRecords (test.tfrecord, train.tfrecord)")
    parser.add_argument("--num_images", type=int, default=200, help="first N test images")
    parser.add_argument("--num_calibration", type=int, default=500, help="first N train images for int8 PTQ")
    parser.add_argument("--output_dir", default=os.path.join(HERE, "fixture"))
    args = parser.parse_args()

    os.makedirs(args.output_dir, exist_ok=True)
    base, model_source = load_or_train(args.model, args.output_dir)
    mean, std = augment.NORMALIZATION["cifar10"]
    images, labels = read_split(args.data_dir, "test", args.num_images)
    calibration, _ = read_split(args.data_dir, "train", args.num_calibration)

    model, flatbuffers = package_flatbuffers(base, mean, std, calibration.astype(np.float32))
    keras_probs = model.predict(images.astype(np.float32), batch_size=100, verbose=0)
    expected = {
        "indices": np.arange(args.num_images, dtype=np.int64),
        "labels": labels,
        "pixel_sha1": np.asarray([pixel_digest(image) for image in images]),
        "keras_top1": keras_probs.argmax(-1),
    }
    report = {"model_source": model_source, "data": os.path.join(args.data_dir, "test.tfrecord"),
              "num_images": args.num_images, "normalization_folded": {"mean": mean, "std": std},
              "converter": "keras_resnets.export.convert",
              "keras_accuracy": float((keras_probs.argmax(-1) == labels).mean()), "models": {}}
    for kind, content in flatbuffers.items():
        start = time.perf_counter()
        scores, output_dtype = litert_scores(content, images)
        top1 = scores.argmax(-1)
        expected[f"{kind}_top1"] = top1
        expected[f"{kind}_scores"] = scores.astype(np.float32)
        filename = f"cifar10_resnet20_{kind}.tflite"
        with open(os.path.join(args.output_dir, filename), "wb") as f:
            f.write(content)
        report["models"][kind] = {
            "file": filename, "bytes": len(content), "ops": operator_names(content), "output_dtype": output_dtype,
            "litert_accuracy": float((top1 == labels).mean()),
            "litert_vs_keras_top1_agreement": float((top1 == expected["keras_top1"]).mean()),
            "litert_seconds": round(time.perf_counter() - start, 2),
        }
    np.savez_compressed(os.path.join(args.output_dir, "expected.npz"), **expected)
    with open(os.path.join(args.output_dir, "labels.txt"), "w") as f:
        f.write("\n".join(CLASS_NAMES) + "\n")
    with open(os.path.join(args.output_dir, "fixture.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
