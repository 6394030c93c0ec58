"""Distributed training on the CPU: MirroredStrategy over logical CPUs against one device, a two-process
MultiWorkerMirroredStrategy cluster on loopback ports, and a diverging run's error (kills and restarts are in
test_faults.py). Every run is a subprocess of apps/train.py (or python -c): logical CPU devices and
TF_CONFIG must be set before TensorFlow initializes."""

import csv
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "apps" / "train.py")
TIMEOUT_S = 240
# Four steps of ResNet-20 on the shipped CIFAR-10 sample, global batch 32, the same seed for every run.
# Residual branches start at zero, so per-replica BatchNorm statistics (the one legitimate difference between the
# strategies) barely move the first steps: comparisons then isolate data order and gradient aggregation.
TINY = ["--model=resnet20", "--dataset=sample", "--train_examples=256", "--eval_examples=128", "--batch_size=32",
        "--train_steps=4", "--seed=1", "--verbose=0", '--model_overrides={"zero_init_last": true}']


def _env(**extra):
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CONFIG", "TF_USE_LEGACY_KERAS")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", **extra}


def _start(args, env=None):
    """apps/train.py in its own process group, so that a kill reaches everything it started. Its output goes to
    files, not pipes: a worker blocked on a full pipe would stall the other one in its collectives."""
    streams = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    process = subprocess.Popen([sys.executable, TRAIN, *args], cwd=ROOT, env=env or _env(), stdout=streams[0],
                               stderr=streams[1], text=True, start_new_session=True)
    process.streams = streams
    return process


def _kill(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _output(process):
    """(stdout, stderr) so far."""
    texts = []
    for stream in process.streams:
        stream.seek(0)
        texts.append(stream.read())
    return texts


def _finish(process, timeout=TIMEOUT_S):
    """(exit code, stdout, stderr); kills the process group and fails past `timeout`."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        out, err = _output(process)
        pytest.fail(f"apps/train.py ran past {timeout} s.\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}")
    return (process.returncode, *_output(process))


def _train(args, env=None):
    code, out, err = _finish(_start(args, env))
    assert code == 0, f"apps/train.py {' '.join(args)} exited {code}.\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
    return out


def _metrics(model_dir):
    return json.loads((pathlib.Path(model_dir) / "metrics.json").read_text())


def _csv_rows(model_dir):
    with open(pathlib.Path(model_dir) / "metrics.csv", newline="") as file:
        return list(csv.reader(file))


def _load(path):
    import keras_resnets.training  # noqa: F401  registers the optimizer and schedules saved with the model
    from keras_resnets.backend import keras

    return keras.saving.load_model(path)


def _eval_images(count=128):
    from keras_resnets.data import input_pipeline

    dataset, _ = input_pipeline("sample", "test", count, training=False, take=count, recipe="cifar")
    return next(iter(dataset))[0]


def _relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


def _trainable(model):
    return np.concatenate([variable.numpy().ravel() for variable in model.trainable_variables])


STREAM_CHECK = """
import numpy as np, tensorflow as tf
from keras_resnets.training import TrainConfig, trainer
config = TrainConfig(model="resnet20", dataset="sample", train_examples=256, batch_size=32, seed=1,
                     num_cpu_devices=2, model_dir="unused")
trainer._prepare_process(config)
single = trainer._training_data(config, 0, None)[0](0)
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert mirrored.num_replicas_in_sync == 2
distributed = mirrored.experimental_distribute_dataset(trainer._training_data(config, 0, None)[0](0))

def images(iterator, steps, strategy=None):
    batches = [next(iterator)[0] for _ in range(steps)]
    if strategy is not None:  # the replicas' shares of each global batch, in replica order
        batches = [tf.concat(strategy.experimental_local_results(batch), 0) for batch in batches]
    return np.stack([np.asarray(batch) for batch in batches])

reference = images(iter(single), 10)  # 8 steps per epoch: the first epoch and two batches of the second
assert not np.array_equal(reference[0], reference[8]), "the second epoch must be reshuffled"
np.testing.assert_array_equal(images(iter(single), 10), reference)  # a fresh iterator starts over
for _ in range(2):  # fit's throw-away iterator first, then the training one
    np.testing.assert_array_equal(images(iter(distributed), 10, mirrored), reference)
print("ok")
"""


def test_training_stream_is_the_same_for_every_iterator_and_both_strategies():
    """The seeded training stream gives the same global batches to every iterator, with or without MirroredStrategy
    (Keras's fit takes one batch from a throw-away iterator under a strategy, so anything else shifts the order)."""
    result = subprocess.run([sys.executable, "-c", STREAM_CHECK], cwd=ROOT, env=_env(), capture_output=True,
                            text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def test_mirrored_over_two_cpus_matches_one_device(tmp_path):
    single, mirrored = tmp_path / "single", tmp_path / "mirrored"
    _train([*TINY, "--strategy=default", f"--model_dir={single}"])
    _train([*TINY, "--strategy=mirrored", "--num_cpu_devices=2", f"--model_dir={mirrored}"])
    assert (_metrics(single)["steps"], _metrics(single)["replicas"]) == (4, 1)
    assert (_metrics(mirrored)["steps"], _metrics(mirrored)["replicas"]) == (4, 2)

    # Same seed, same initial weights, same global batches (the test above), gradients summed over the replicas:
    # the runs differ only because BatchNorm normalizes each replica's 16 images with their own statistics, and
    # the saved moving averages are replica 0's. Measured (resnet20, 4 steps at lr 0.1): trainable weights differ
    # by 7e-4 (relative L2), eval-mode logits by 0.044 (relative L2, max 0.035), train/val loss by 1e-4. Two
    # different seeds differ by 1.25 and 1.22 respectively, so the bounds below (0.01, 0.15, 0.01) are an order
    # of magnitude from both: they catch any other difference (data order, loss scaling, decay applied per
    # replica), not BatchNorm's.
    single_row, mirrored_row = (dict(zip(*_csv_rows(d)[:2])) for d in (single, mirrored))
    for key in ("loss", "val_loss"):
        assert abs(float(single_row[key]) - float(mirrored_row[key])) < 0.01, (key, single_row, mirrored_row)
    models = [_load(str(d / "model.keras")) for d in (single, mirrored)]
    weights = _relative(*[_trainable(model) for model in models])
    images = _eval_images()
    logits = _relative(*[np.asarray(model(images, training=False)) for model in models])
    assert weights < 0.01, f"trainable weights differ by {weights:.3g} (relative L2)"
    assert logits < 0.15, f"eval logits differ by {logits:.3g} (relative L2)"


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_two_worker_multi_worker_mirrored_run_agrees(tmp_path):
    """Two processes started with the same command line (only TF_CONFIG differs) and the same --model_dir: the chief
    writes model_dir, worker 1 model_dir/worker_1; both end with the same trainable weights and metrics."""
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    args = [*TINY, "--strategy=multi_worker_mirrored", f"--model_dir={tmp_path}"]
    processes = []
    try:
        for index in range(2):
            tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            processes.append(_start(args, _env(TF_CONFIG=json.dumps(tf_config))))
        results = [_finish(process) for process in processes]
    finally:
        for process in processes:
            _kill(process)
    for index, (code, out, err) in enumerate(results):
        assert code == 0, f"worker {index} exited {code}.\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"

    chief, other = tmp_path, tmp_path / "worker_1"
    metrics = [_metrics(chief), _metrics(other)]
    for result in metrics:
        assert (result["steps"], result["replicas"]) == (4, 2)
    assert metrics[0]["final_test_accuracy"] == metrics[1]["final_test_accuracy"]
    rows = [_csv_rows(chief), _csv_rows(other)]
    assert len(rows[0]) == 2 and rows[0] == rows[1]  # one header, one epoch, the same (all-reduced) metrics
    # The gradients are all-reduced, so the trainable weights are identical; BatchNorm's moving averages are not
    # (each worker keeps its own replica's), so only trainable variables are compared.
    models = [_load(str(d / "model.keras")) for d in (chief, other)]
    np.testing.assert_allclose(*[_trainable(model) for model in models], rtol=0, atol=1e-6)


def test_nan_loss_stops_with_training_diverged_error(tmp_path):
    code, out, err = _finish(_start([*TINY, "--train_steps=40", "--learning_rate=1e6", f"--model_dir={tmp_path}"]))
    assert code != 0, out
    message = [line for line in err.splitlines() if line.startswith("error: The loss became NaN or infinite at step")]
    assert message, err[-3000:]
    assert int(message[0].split("at step ")[1].split(";")[0]) < 40  # stopped at the divergence, not the budget
    assert "Lower --learning_rate" in message[0]
    assert not (tmp_path / "model.keras").exists() and not (tmp_path / "metrics.json").exists()
