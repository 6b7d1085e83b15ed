"""The thread count of a training run (:mod:`normspec.threads`): ``--threads N`` as given,
``auto`` one thread under 24 MFLOPs of forward pass a batch, and each backend applying it to
the run only."""

from __future__ import annotations

import math

import pytest

import normspec
from conftest import ROOT
from normspec.costs import spec_cost
from normspec.errors import BackendError
from normspec.threads import FRAMEWORK, ONE_THREAD_BELOW, choose, given
from test_backends_shared import available

MLP = normspec.load(ROOT / "specs" / "mlp.yaml")
CIFAR = normspec.load(ROOT / "specs" / "cifar_cnn.yaml")


def test_no_request_keeps_the_frameworks_own() -> None:
    assert choose(None, CIFAR, 64) == FRAMEWORK and FRAMEWORK.count is None


@pytest.mark.parametrize("count", [1, 2, 7])
def test_a_count_is_used_as_given_whatever_the_size(count: int) -> None:
    for spec in (MLP, CIFAR):
        choice = choose(count, spec, 32)
        assert choice == given(count) and choice.count == count and choice.explicit


@pytest.mark.parametrize(
    ("spec", "batch", "count", "flops"),
    [(MLP, 32, 1, "0.6"), (CIFAR, 64, None, "4997.4"), (CIFAR, 1, None, "78.1")],
)
def test_auto_by_forward_flops_of_a_batch(spec, batch: int, count: int | None, flops: str) -> None:
    choice = choose("auto", spec, batch)
    assert choice.count == count and not choice.explicit
    assert choice.reason.startswith(f"auto: {flops} MFLOPs a batch")


def test_auto_threshold_is_on_the_batch_not_the_sample() -> None:
    per_sample = spec_cost(MLP).flops
    edge = math.ceil(ONE_THREAD_BELOW / per_sample)  # the smallest batch at or over the threshold
    assert choose("auto", MLP, edge - 1).count == 1
    assert choose("auto", MLP, edge).count is None


@pytest.mark.parametrize("bad", [0, -2, True, "two", 1.0])
def test_anything_else_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="threads must be"):
        choose(bad, MLP, 32)  # type: ignore[arg-type]


@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_torch_applies_the_count_inside_the_block_only() -> None:
    import torch

    from normspec.backends import get_backend

    backend = get_backend("torch")
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    with backend.threads(given(wanted)):
        assert torch.get_num_threads() == wanted
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"), backend.threads(given(wanted)):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    with backend.threads(FRAMEWORK):
        assert torch.get_num_threads() == before


@pytest.mark.skipif(not available("keras"), reason="needs keras")
def test_keras_once_started_refuses_a_given_count_and_keeps_its_own_for_auto() -> None:
    import tensorflow as tf

    from normspec.backends import get_backend

    backend = get_backend("keras")
    tf.constant(1.0) + 1.0  # TensorFlow has started: its pool is fixed for this process
    current = tf.config.threading.get_intra_op_parallelism_threads()
    other = current + 1
    refused = pytest.raises(BackendError, match=f"--threads {other}: TensorFlow has started")
    with refused, backend.threads(given(other)):
        pass
    auto = choose("auto", MLP, 32)
    with backend.threads(auto) as chosen:
        assert tf.config.threading.get_intra_op_parallelism_threads() == current
    if current == 1:
        assert chosen == auto.reason
    else:
        assert chosen == f"{auto.reason}; not applied: TensorFlow had started with its own"
    with backend.threads(given(current) if current else FRAMEWORK) as chosen:
        assert chosen == (f"--threads {current}" if current else "the framework's own")


@pytest.mark.skipif(not available("flax"), reason="needs flax")
def test_flax_says_the_count_is_not_applied() -> None:
    from normspec.backends import get_backend

    with get_backend("flax").threads(given(1)) as chosen:
        assert chosen == "not applied: XLA sizes its own pool"


def test_run_settings_refuse_a_bad_count() -> None:
    from normspec.run.train import RunSettings

    assert RunSettings.from_spec(MLP, threads="auto").threads == "auto"
    with pytest.raises(ValueError, match="threads must be"):
        RunSettings.from_spec(MLP, threads=0)
