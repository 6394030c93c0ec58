"""apps/predict.py and keras_resnets.classify: the shipped sample's test images classified by a trained CIFAR run
(its model.keras) and by that model's int8 TFLite file, which agree; failures are listed, never a traceback."""

import csv
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_resnets.classify import classify, load_classifier, write_predictions
from keras_resnets.data.sources import load_split

ROOT = pathlib.Path(__file__).parent.parent
TRAINED = ROOT / "tests" / "fixtures" / "trained" / "resnet14"
IMAGES = 300  # of the sample's 1,000 test images: enough to measure a 98% agreement, cheap on a CPU


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory):
    """The sample's first test images as PNG files (what a user points the app at), and their labels."""
    folder = tmp_path_factory.mktemp("sample_images")
    dataset, info = load_split("sample", "test", take=IMAGES)
    labels = []
    for index, (image, label) in enumerate(dataset.as_numpy_iterator()):
        Image.fromarray(image).save(folder / f"{index:04d}.png")
        labels.append(int(label))
    return folder, np.asarray(labels), info.class_names


@pytest.fixture(scope="module")
def int8_tflite(tmp_path_factory):
    """The trained run's model as a full-int8 .tflite taking raw pixels, as tflite/convert.py makes it."""
    from keras_resnets.export import calibration_images, convert

    calibration = calibration_images("sample", "train", 64, recipe="cifar", raw=True)
    path = tmp_path_factory.mktemp("tflite") / "resnet14_int8.tflite"
    path.write_bytes(convert(str(TRAINED / "model.keras"), "int8", calibration=calibration, io_type="uint8",
                             preprocessing="cifar10"))
    return path


def top1(classification):
    return {os.path.basename(path): top[0][0] for path, top in classification.predictions}


def best_classes(classification):
    """The classes that share the best score: an int8 output has 256 levels, so close logits can tie."""
    return {os.path.basename(path): {index for index, _, score in top if score == top[0][2]}
            for path, top in classification.predictions}


def test_keras_and_int8_tflite_classify_the_sample_alike(sample_folder, int8_tflite):
    folder, labels, class_names = sample_folder
    keras_result = classify(load_classifier(TRAINED / "model.keras"), [folder], top=3, progress=False)
    tflite_result = classify(load_classifier(int8_tflite), [folder], top=3, progress=False)
    assert len(keras_result.predictions) == len(tflite_result.predictions) == IMAGES
    assert not keras_result.failures and not tflite_result.failures
    keras_top1, tflite_best = top1(keras_result), best_classes(tflite_result)
    # Measured: 99.3% (96.7% counting a tie as a disagreement: 10 of the 300 int8 outputs have a tied best score).
    agreement = np.mean([keras_top1[name] in tflite_best[name] for name in keras_top1])
    assert agreement >= 0.98
    # The trained network, not chance (10%): its test accuracy on the sample is about 60%.
    accuracy = np.mean([keras_top1[f"{index:04d}.png"] == label for index, label in enumerate(labels)])
    assert accuracy > 0.4
    # Names come from the run's dataset; scores are probabilities, best first.
    _, best = keras_result.predictions[0]
    assert best[0][1] == class_names[best[0][0]] and best[0][2] >= best[1][2] >= best[2][2]
    assert sum(score for *_, score in best) <= 1.0 + 1e-6


def test_outputs_list_every_rank_and_failure(sample_folder, tmp_path):
    folder, _, _ = sample_folder
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a JPEG at all")
    result = classify(load_classifier(TRAINED / "model.keras"), [folder / "0000.png", broken, folder / "0001.png"],
                      top=2)
    assert [os.path.basename(path) for path, _ in result.predictions] == ["0000.png", "0001.png"]
    assert result.failures[0][0] == str(broken) and "cannot be decoded as an image" in result.failures[0][1]
    write_predictions(result, str(tmp_path / "p.csv"))
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [(row["rank"], os.path.basename(row["path"])) for row in rows] == [
        ("1", "0000.png"), ("2", "0000.png"), ("1", "0001.png"), ("2", "0001.png")]
    write_predictions(result, str(tmp_path / "p.json"))
    written = json.loads((tmp_path / "p.json").read_text())
    assert written["predictions"][1]["top"][0]["class_name"] == rows[2]["class_name"]
    assert written["failures"][0]["path"] == str(broken)


def test_the_apps_classify_and_report_user_errors_in_one_line(sample_folder, tmp_path):
    folder, _, _ = sample_folder
    few = tmp_path / "few"
    few.mkdir()
    for name in ("0000.png", "0001.png"):
        (few / name).write_bytes((folder / name).read_bytes())
    (few / "zz_broken.png").write_bytes(b"\x89PNG truncated")
    model = str(TRAINED / "model.keras")
    cases = [
        ([f"--model={model}", f"--images={few}", f"--output={tmp_path}/out.json"], "1 of 3 files could not be"),
        ([f"--model={model}", "--images=/nowhere/cat.jpg"], "Image path '/nowhere/cat.jpg' does not exist"),
        (["--model=resnet200", "--weights=imagenet", f"--images={few}"], "timm publishes no ImageNet weights for"),
        (["--model=resnet50", f"--images={few}"], "needs weights: --weights=imagenet"),
        ([f"--model={model}", f"--images={few}", "--output=out.txt"], "--output must end in .csv or .json"),
        ([f"--model={tmp_path}/missing.tflite", f"--images={few}"], "Cannot read the TFLite model"),
    ]
    # tflite/convert.py takes the same --weights.
    convert_cases = [(["--model=resnet200", "--weights=imagenet"], "timm publishes no ImageNet weights for"),
                     (["--model=resnet50", "--weights=timm/resnet50.bogus"], "timm publishes no checkpoint")]
    (tmp_path / "cases.json").write_text(json.dumps({"apps/predict.py": [argv for argv, _ in cases],
                                                     "tflite/convert.py": [argv for argv, _ in convert_cases]}))
    cases += convert_cases
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, str(ROOT / "tests" / "cli_user_errors.py"), str(tmp_path / "cases.json"),
                    str(tmp_path / "results.json")], cwd=tmp_path, env=env, check=True, timeout=600)
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == len(cases)
    for (_, argv, status, output), (_, message) in zip(results, cases):
        assert status == 2 and "Traceback" not in output and message in output, f"{argv}:\n{output}"
    first_output = results[0][3]
    assert "0000.png: " in first_output and "zz_broken.png: cannot be decoded as an image" in first_output
    written = json.loads((tmp_path / "out.json").read_text())
    assert len(written["predictions"]) == 2 and written["failures"][0]["path"].endswith("zz_broken.png")
