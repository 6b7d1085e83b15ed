"""``normspec show``: a model.summary()-style table of the canonical spec."""

from __future__ import annotations

from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec, count_params, op_weights


def _detail(op: ir.Op) -> str:
    if isinstance(op, ir.Dense):
        return f"{op.units} units" + ("" if op.use_bias else ", no bias")
    if isinstance(op, ir.Conv1D | ir.Conv2D):
        k = "x".join(map(str, op.kernel))
        s = "x".join(map(str, op.strides))
        return f"{op.filters} filters {k}/{s}" + ("" if op.use_bias else ", no bias")
    if isinstance(op, ir.Activation):
        extra = op.alpha or op.negative_slope or op.approximate
        return op.function + (f"({extra})" if extra is not None else "")
    if isinstance(op, ir.BatchNorm):
        return f"eps={op.epsilon:g} momentum={op.momentum:g} var={op.running_var}"
    if isinstance(op, ir.Dropout):
        return f"rate={op.rate:g}"
    if isinstance(op, ir.MaxPool1D | ir.MaxPool2D | ir.AvgPool1D | ir.AvgPool2D):
        return "x".join(map(str, op.pool)) + "/" + "x".join(map(str, op.strides))
    if isinstance(op, ir.Residual):
        return "identity shortcut" if not op.shortcut else "projection shortcut"
    return ""


def summary(spec: CanonicalSpec) -> str:
    """Name, op, output shape and parameters per op (residual children indented), then totals."""
    rows = [("Name", "Op", "Output shape", "Params", "Detail")]
    rows.append(("input", "input", str((None, *spec.input.shape)), "0", spec.input.dtype))
    for site in spec.walk():
        op = site.op
        indent = "  " * site.depth
        own = sum(_size(w.shape) for w in op_weights(op, site.input_shape))
        params = f"{op.params:,}" if isinstance(op, ir.Residual) else f"{own:,}"
        rows.append((indent + op.name, op.op, str((None, *op.shape)), params, _detail(op)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    rule = "-" * (sum(widths) + 8)
    lines = [f'Model "{spec.name}"  ({spec.hash[:19]})', rule]
    for i, row in enumerate(rows):
        cells = [
            c.ljust(w) if j != 3 else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append(rule)
    trainable, frozen = count_params(spec)
    lines += [
        rule,
        f"Total params: {trainable + frozen:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {frozen:,}",
    ]
    return "\n".join(lines) + "\n"


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
