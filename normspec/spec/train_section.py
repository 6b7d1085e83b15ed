"""The canonical train section: the optimizer's defaults written out and the loss chosen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from normspec.ir import ops as ir
from normspec.ir.graph import SGD, Adam, TrainSpec
from normspec.spec import models as m

if TYPE_CHECKING:
    from normspec.spec.branches import Lowered

DEFAULT_LEARNING_RATE = {"sgd": 0.01, "momentum": 0.01, "adam": 1e-3}
"""The learning rate of an optimizer that names none."""
DEFAULT_MOMENTUM = 0.9
"""The momentum of ``momentum`` (plain ``sgd`` has none); Adam's betas and epsilon default
in :class:`normspec.spec.models.AdamSpec`."""


def optimizer_of(
    opt: m.SGDSpec | m.AdamSpec | str, learning_rate: float | None = None
) -> SGD | Adam:
    """The explicit optimizer of a spec's ``optimizer`` (a kind alone takes every default);
    ``learning_rate``, when given, is used where the spec names none."""
    if isinstance(opt, str):
        opt = m.AdamSpec(kind="adam") if opt == "adam" else m.SGDSpec(kind=opt)  # type: ignore[arg-type]
    rate = opt.learning_rate or learning_rate or DEFAULT_LEARNING_RATE[opt.kind]
    if isinstance(opt, m.AdamSpec):
        return Adam(learning_rate=rate, beta1=opt.beta1, beta2=opt.beta2, epsilon=opt.epsilon)
    default_momentum = DEFAULT_MOMENTUM if opt.kind == "momentum" else 0.0
    momentum = opt.momentum if opt.momentum is not None else default_momentum
    return SGD(learning_rate=rate, momentum=momentum, nesterov=opt.nesterov)


def train_spec(section: m.TrainSection, ops: Sequence[Lowered]) -> TrainSpec:
    """The train section of a canonical spec whose ops are ``ops``."""
    optimizer = optimizer_of(section.optimizer)
    loss = section.loss if section.loss != "auto" else _auto_loss(ops)
    return TrainSpec(
        loss=loss,
        optimizer=optimizer,
        batch_size=section.batch_size,
        epochs=section.epochs,
        seed=section.seed,
        validation_split=section.validation_split,
    )


def _auto_loss(ops: Sequence[Lowered]) -> Any:
    last = ops[-1] if ops else None
    if isinstance(last, ir.Activation) and last.function == "sigmoid":
        return "binary_cross_entropy"
    if last is not None and last.shape == (1,):
        return "mean_squared_error"
    return "cross_entropy"
