"""The canonical train section: the optimizer's defaults written out and the loss chosen."""

from __future__ import annotations

from typing import Any

from normspec.ir import ops as ir
from normspec.ir.graph import SGD, Adam, TrainSpec
from normspec.spec import models as m


def train_spec(section: m.TrainSection, ops: list[ir.Op]) -> TrainSpec:
    """The train section of a canonical spec whose ops are ``ops``."""
    opt = section.optimizer
    if isinstance(opt, str):
        opt = m.AdamSpec(kind="adam") if opt == "adam" else m.SGDSpec(kind=opt)
    optimizer: SGD | Adam
    if isinstance(opt, m.AdamSpec):
        optimizer = Adam(
            learning_rate=opt.learning_rate or 1e-3,
            beta1=opt.beta1,
            beta2=opt.beta2,
            epsilon=opt.epsilon,
        )
    else:
        default_momentum = 0.9 if opt.kind == "momentum" else 0.0
        momentum = opt.momentum if opt.momentum is not None else default_momentum
        optimizer = SGD(
            learning_rate=opt.learning_rate or 0.01, momentum=momentum, nesterov=opt.nesterov
        )
    loss = section.loss if section.loss != "auto" else _auto_loss(ops)
    return TrainSpec(
        loss=loss,
        optimizer=optimizer,
        batch_size=section.batch_size,
        epochs=section.epochs,
        seed=section.seed,
        validation_split=section.validation_split,
    )


def _auto_loss(ops: list[ir.Op]) -> Any:
    last = ops[-1] if ops else None
    if isinstance(last, ir.Activation) and last.function == "sigmoid":
        return "binary_cross_entropy"
    if last is not None and last.shape == (1,):
        return "mean_squared_error"
    return "cross_entropy"
