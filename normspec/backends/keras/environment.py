"""What a Keras run ran with (versions, threads, device), and ``NORMSPEC_THREADS`` applied to
TensorFlow's intra-op pool (possible only before TensorFlow starts running ops)."""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from normspec.backends.common import requested_device
from normspec.errors import BackendError


def apply_threads() -> None:
    """Use ``NORMSPEC_THREADS`` intra-op threads, when it is set."""
    wanted = os.environ.get("NORMSPEC_THREADS")
    if not wanted or tf.config.threading.get_intra_op_parallelism_threads() == int(wanted):
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(wanted))
    except RuntimeError:
        raise BackendError(
            f"--threads {wanted}: TensorFlow has started already and keeps its thread count"
        ) from None


def environment() -> dict[str, object]:
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    wanted = requested_device()
    gpu = wanted != "cpu" and bool(tf.config.list_logical_devices("GPU"))
    return {
        "framework": f"keras {keras.__version__} (tensorflow {tf.__version__})",
        "threads": threads or f"{os.cpu_count()} (TensorFlow's default)",
        "device": "gpu" if gpu else "cpu",
    }
