"""tf.distribute strategies by name, and the global batch they split."""

import json
import os

import tensorflow as tf

STRATEGIES = {
    "default": "no distribution (TensorFlow's default strategy)",
    "one_device": "one device: the first GPU, else the CPU",
    "mirrored": "synchronous data parallelism over all local GPUs (or the logical CPUs of --num_cpu_devices)",
    "multi_worker_mirrored": "synchronous data parallelism over several machines, described by TF_CONFIG",
    "tpu": "a TPU or TPU pod slice (--tpu names it)",
}


def split_cpu(num_devices):
    """Splits the host CPU into `num_devices` logical devices (must run before TensorFlow initializes them)."""
    if num_devices <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)


class _MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy whose `reduce` takes what Keras 3's `fit` gives it (tensorflow#72388).

    `fit` reduces the first (images, labels) batch to build the model, and every step's scalar metrics with
    `axis=0`; TensorFlow's collective strategy reduces one value at a time and fails on a scalar with an axis. Here
    nested structures are reduced value by value (as MirroredStrategy does), and a scalar only across replicas.
    """

    def reduce(self, reduce_op, value, axis):
        reduce_one = super().reduce

        def reduce_value(component):
            scalar = self.experimental_local_results(component)[0].shape.rank == 0
            return reduce_one(reduce_op, component, None if scalar else axis)

        return tf.nest.map_structure(reduce_value, value)


def create_strategy(name, tpu=None):
    if name not in STRATEGIES:
        allowed = "; ".join(f"'{key}' ({text})" for key, text in STRATEGIES.items())
        raise ValueError(f"Unknown strategy {name!r}; allowed: {allowed}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [device.name for device in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker_mirrored":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("The multi_worker_mirrored strategy needs TF_CONFIG describing the cluster and this task.")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as error:
            raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from error
        return _MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def per_replica_batch(global_batch, strategy):
    replicas = strategy.num_replicas_in_sync
    if global_batch < 1 or global_batch % replicas:
        raise ValueError(
            f"The global batch size {global_batch} must be a positive multiple of the {replicas} replicas "
            f"of the strategy, so that every replica gets the same share."
        )
    return global_batch // replicas
