"""What a Keras run ran with (versions, threads, device), and a run's thread count applied to
TensorFlow's intra-op pool (possible only before TensorFlow starts running ops)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import keras
import tensorflow as tf

from normspec.backends.common import requested_device
from normspec.errors import BackendError
from normspec.threads import Threads


@contextlib.contextmanager
def threads(choice: Threads) -> Iterator[str]:
    """``choice.count`` intra-op threads, when TensorFlow has not started yet; it keeps its
    pool for the life of the process, so the count stays after the block. Once it has started
    a count asked for by ``--threads`` is an error and the ``auto`` one is left out. Yields how
    the count was chosen."""
    wanted = choice.count
    if wanted is None or tf.config.threading.get_intra_op_parallelism_threads() == wanted:
        yield choice.reason
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(wanted)
    except RuntimeError:
        if choice.explicit:
            raise BackendError(
                f"--threads {wanted}: TensorFlow has started already and keeps its thread count"
            ) from None
        yield f"{choice.reason}; not applied: TensorFlow had started with its own"
        return
    yield choice.reason


def environment() -> dict[str, object]:
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    wanted = requested_device()
    gpu = wanted != "cpu" and bool(tf.config.list_logical_devices("GPU"))
    return {
        "framework": f"keras {keras.__version__} (tensorflow {tf.__version__})",
        "threads": threads or f"{os.cpu_count()} (TensorFlow's default)",
        "device": "gpu" if gpu else "cpu",
    }
