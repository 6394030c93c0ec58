"""Checking a split before it is used: every record reads, every image decodes, every label is a class index.

A corrupt image or record met hours into a run ends it with a TensorFlow error that names no file, and a label
outside [0, classes) trains silently as a one-hot row of zeros. This pass meets both first (seconds for
CIFAR-size data) and names the file and, for folders, the image. `validate="auto"` runs it for splits of up to
AUTO_LIMIT examples; `validate=True` runs it for any size.
"""

import re

import numpy as np
import tensorflow as tf

AUTO_LIMIT = 100_000
SHOWN = 5  # problems listed by name; the rest are counted
BATCH = 4096


class DataError(ValueError):
    """A dataset that cannot be used as it is: unreadable files, undecodable images, labels that are not classes."""


def first_line(error):
    """An error's first line without TensorFlow's op and function decorations."""
    text = str(getattr(error, "message", None) or error).strip()
    text = re.sub(r"^\{\{[^}]*\}\}\s*|\s*\[Op:\w+\]( name: \S*)?", "", text.splitlines()[0] if text else "")
    return text or type(error).__name__


def should_validate(validate, count):
    """Whether to check a split of `count` examples (None: unknown) for the `validate` argument."""
    if not (validate == "auto" or isinstance(validate, bool)):
        raise ValueError(f"validate must be 'auto', True or False; got {validate!r}.")
    if validate == "auto":
        return count is not None and count <= AUTO_LIMIT
    return validate


def check_num_classes(num_classes, where):
    if num_classes < 2:
        raise DataError(f"{where} has {num_classes} class(es); classification needs at least 2 (with one class "
                        "every prediction is right and nothing is learned).")


def listing(items, total=None):
    """'a, b, c' for the first SHOWN items, with how many more there are."""
    total = len(items) if total is None else total
    shown = ", ".join(str(item) for item in items[:SHOWN])
    return shown + (f" and {total - SHOWN} more" if total > SHOWN else "")


def _call(decode, element):
    return decode(*element) if isinstance(element, tuple) else decode(element)


def _outcome(decode):
    def outcome(element):
        image, label = _call(decode, element)
        return label, tf.shape(image)  # an output of the decode: never pruned from the graph

    return outcome


def _whole(parts):
    """A dataset map's arguments as the one element they are (tf.data unpacks a tuple element)."""
    return parts if len(parts) > 1 else parts[0]


def _labels_if_all_decode(elements, decode):
    """The labels of `elements` in order, or None when some element fails to decode (the fast, common case)."""
    try:
        outcome = _outcome(decode)
        batches = elements.map(lambda *parts: outcome(_whole(parts)), num_parallel_calls=tf.data.AUTOTUNE)
        batches = batches.batch(BATCH)
        return np.concatenate([labels for labels, _ in batches.as_numpy_iterator()] or [np.zeros(0, np.int64)])
    except tf.errors.OpError:
        return None


def decode_outcomes(elements, decode, count):
    """(a mask of the `count` elements that decode, their labels by index): failures are skipped, not raised."""
    outcome = _outcome(decode)
    indexed = elements.enumerate().map(lambda index, element: (index, *outcome(element)),
                                       num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    labels = np.zeros(count, np.int64)
    decoded_ok = np.zeros(count, bool)
    for indices, batch_labels, _ in indexed.batch(BATCH).as_numpy_iterator():
        decoded_ok[indices] = True
        labels[indices] = batch_labels
    return decoded_ok, labels


def check_labels(labels, num_classes, name_of, where):
    """Raises DataError naming the examples whose label is outside [0, num_classes)."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        examples = [f"{name_of(i)} (label {labels[i]})" for i in bad[:SHOWN]]
        raise DataError(
            f"{where}: {bad.size} example(s) have labels outside [0, {num_classes}): {listing(examples, bad.size)}. "
            f"Labels must be class indices 0..{num_classes - 1}; pass num_classes (or class_names in info.json) "
            "if the dataset has more classes.")


def check_decoded(decoded_ok, name_of, reason, where):
    """Raises DataError naming the examples that did not decode, with the first one's error."""
    failed = np.flatnonzero(~decoded_ok)
    if failed.size:
        names = [name_of(i) for i in failed[:SHOWN]]
        raise DataError(
            f"{where}: {failed.size} of {decoded_ok.size} example(s) cannot be read or decoded: "
            f"{listing(names, failed.size)}. The first one fails with: {reason(failed[0])}. Remove or replace them.")


def _failure_reason(elements, decode, index):
    """The error decoding the element at `index` raises, run eagerly (tf.data's own error names no element)."""
    for element in elements.skip(int(index)).take(1):
        try:
            _call(decode, element)
        except tf.errors.OpError as error:
            return first_line(error)
    return "unknown"


def validate_examples(elements, decode, count, name_of, where, num_classes=None):
    """Decodes the `count` elements with `decode(element) -> (image, label)`; raises one DataError naming the
    elements that fail, then (given `num_classes`) those whose label is not a class index."""
    labels = _labels_if_all_decode(elements, decode)
    if labels is None:  # find which ones, by index: slower, only for a bad split
        decoded_ok, labels = decode_outcomes(elements, decode, count)
        check_decoded(decoded_ok, name_of, lambda index: _failure_reason(elements, decode, index), where)
    if num_classes is not None:
        check_labels(labels, num_classes, name_of, where)
