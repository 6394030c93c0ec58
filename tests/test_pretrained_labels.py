"""ImageNet-1k class names ship with the package; decode_predictions reads them as keras.applications does."""

import numpy as np
import pytest

import keras_resnets
from keras_resnets.labels import imagenet_classes, top_k, write_imagenet_labels


def test_the_1000_classes_are_in_class_index_order():
    classes = imagenet_classes()
    assert len(classes) == 1000 and len({synset for synset, _ in classes}) == 1000
    assert classes[0] == ("n01440764", "tench")
    assert classes[207] == ("n02099601", "golden retriever")
    assert classes[999] == ("n15075141", "toilet tissue")


def test_decode_predictions_gives_the_top_classes_best_first():
    probabilities = np.full((2, 1000), 1e-4, np.float32)
    probabilities[0, [207, 1, 999]] = (0.6, 0.3, 0.05)
    probabilities[1, 0] = 0.9
    decoded = keras_resnets.decode_predictions(probabilities, top=3)
    assert [entry[:2] for entry in decoded[0]] == [("n02099601", "golden retriever"), ("n01443537", "goldfish"),
                                                   ("n15075141", "toilet tissue")]
    assert decoded[0][0][2] == pytest.approx(0.6) and decoded[1][0][:2] == ("n01440764", "tench")
    assert len(decoded[1]) == 3


def test_top_k_of_any_classifier_and_bad_shapes():
    assert top_k([[0.1, 0.7, 0.2]], 2) == [[(1, pytest.approx(0.7)), (2, pytest.approx(0.2))]]
    with pytest.raises(ValueError, match=r"ImageNet-1k scores of shape \[batch, 1000\]; got shape \(1, 10\)"):
        keras_resnets.decode_predictions(np.zeros((1, 10)))


def test_labels_file_for_mediapipe_metadata(tmp_path):
    write_imagenet_labels(tmp_path / "labels.txt")
    lines = (tmp_path / "labels.txt").read_text().splitlines()
    assert len(lines) == 1000 and lines[207] == "golden retriever" and lines[-1] == "toilet tissue"
