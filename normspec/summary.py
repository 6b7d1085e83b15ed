"""``normspec show``: a model.summary()-style table of the canonical spec, or the same rows and
totals as JSON.

MACs and FLOPs are per sample, by the convention of :mod:`normspec.costs`; activation memory is
at a batch size, by the rule of :mod:`normspec.resources`.

JSON fields (:func:`summary_data`): ``name``, ``hash``, ``dtype``, ``batch_size``; ``rows``, in
table order, the input first, each with ``name``, ``op``, ``depth`` (0 at top level, 1 inside a
residual or a use of a block, ...), ``output_shape`` (per sample, without the batch axis),
``params`` (a residual or a use of a block: the total of its children), ``macs`` and ``flops``
(per sample; a residual: its add plus its children; a use: its children) and ``detail`` (the
table's text); ``totals``, with ``params``, ``trainable_params``, ``non_trainable_params``,
``macs``, ``flops`` (each op once) and ``activation_bytes`` (every op's output at
``batch_size``); ``memory``, in bytes (rules: :mod:`normspec.resources`), with
``parameter_bytes``, ``gradient_bytes``, ``optimizer`` and ``optimizer_bytes``,
``activation_bytes`` (forward) and ``training_activation_bytes`` (2 x forward), and ``needs``:
the total that ``weights`` (init, convert), ``model`` (a live model) and ``train`` need.
"""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass
from typing import Any

from normspec import resources
from normspec.costs import FLOPS_RULE, node_cost, size, spec_cost
from normspec.ir import ops as ir
from normspec.ir.graph import BlockArguments, CanonicalSpec, count_params
from normspec.ir.nodes import BRANCHES, GraphNode, inside, residual_names
from normspec.resources import MemoryEstimate, estimate_memory, format_bytes


@dataclass(frozen=True)
class Row:
    name: str
    op: str
    depth: int
    output_shape: tuple[int, ...]
    params: int
    macs: int
    flops: int
    detail: str


def rows(spec: CanonicalSpec) -> list[Row]:
    """The input, then every op in graph order, each residual as one row (its params and cost
    the total of its branches and its add) before the ops of its branches, and each use of a
    block as one row (the total of its ops) before its ops; a join of its own (an add no
    residual lowered to) is a row like any op."""
    out = [Row("input", "input", 0, spec.input.shape, 0, 0, 0, spec.input.dtype)]
    joins = {node.name: node for node in spec.nodes if isinstance(node.op, ir.Add)}
    residual = residual_names(spec.nodes)
    given = {entry.use: entry for entry in spec.uses}
    seen: set[str] = set()
    for node in spec.nodes:
        scope = node.scope
        for i in range(0, len(scope), 2):
            name = scope[i]
            if name not in seen:
                seen.add(name)
                if scope[i + 1] in BRANCHES:
                    out.append(_residual_row(spec, joins[name], i // 2))
                else:
                    out.append(_use_row(spec, scope[: i + 2], given.get(name)))
        if node.name in residual:
            if node.name not in seen:  # both branches empty: it opens at its add
                seen.add(node.name)
                out.append(_residual_row(spec, node, len(scope) // 2))
            continue
        own = sum(size(w.shape) for w in node.op.weights(node.input_shape))
        cost = node_cost(node)
        row = (node.name, node.op.op, len(scope) // 2, node.shape, own, cost.macs, cost.flops)
        out.append(Row(*row, node.op.detail()))
    return out


def _residual_row(spec: CanonicalSpec, join: GraphNode, depth: int) -> Row:
    members = inside(spec.nodes, join.name)
    params = sum(size(w.shape) for n in members for w in n.op.weights(n.input_shape))
    cost = sum((node_cost(n) for n in members), start=node_cost(join))
    projection = any(n.scope[-2:] == (join.name, "shortcut") for n in members)
    detail = "projection shortcut" if projection else "identity shortcut"
    return Row(join.name, "residual", depth, join.shape, params, cost.macs, cost.flops, detail)


def _use_row(spec: CanonicalSpec, use: tuple[str, ...], given: BlockArguments | None) -> Row:
    """A use of a block: its ops' totals, the shape of its value, the block and what it was
    given (``squeeze_excite(channels=32, squeezed=8)``)."""
    members = [n for n in spec.nodes if n.scope[: len(use)] == use]
    params = sum(size(w.shape) for n in members for w in n.op.weights(n.input_shape))
    cost = sum((node_cost(n) for n in members[1:]), start=node_cost(members[0]))
    args = ", ".join(f"{k}={v!r}" for k, v in given.args) if given is not None else ""
    detail = f"{use[-1]}({args})"
    depth = len(use) // 2 - 1
    return Row(use[-2], "block", depth, members[-1].shape, params, cost.macs, cost.flops, detail)


def summary_data(spec: CanonicalSpec, batch_size: int | None = None) -> dict[str, Any]:
    """The rows and totals of the table, as plain data (fields: see the module docstring)."""
    batch = spec.train.batch_size if batch_size is None else batch_size
    trainable, frozen = count_params(spec)
    cost = spec_cost(spec)
    memory = estimate_memory(spec, batch)
    totals = {
        "params": trainable + frozen,
        "trainable_params": trainable,
        "non_trainable_params": frozen,
        "macs": cost.macs,
        "flops": cost.flops,
        "activation_bytes": memory.activation_bytes,
    }
    return {
        "name": spec.name,
        "hash": spec.hash,
        "dtype": spec.input.dtype,
        "batch_size": batch,
        "rows": [{**asdict(r), "output_shape": list(r.output_shape)} for r in rows(spec)],
        "totals": totals,
        "memory": memory_data(memory),
    }


def memory_data(memory: MemoryEstimate) -> dict[str, Any]:
    return {
        "parameter_bytes": memory.parameter_bytes,
        "gradient_bytes": memory.trainable_bytes,
        "optimizer": memory.optimizer,
        "optimizer_bytes": memory.optimizer_bytes,
        "activation_bytes": memory.activation_bytes,
        "training_activation_bytes": memory.training_activation_bytes,
        "needs": {task: memory.need(task).total for task in ("weights", "model", "train")},
    }


def memory_line(memory: MemoryEstimate) -> str:
    """One line: parameters, optimizer state, activations, and what training needs (noting when
    that is above this machine's physical memory)."""
    train = memory.need("train").total
    machine = resources.machine_memory()
    above = f", above this machine's {format_bytes(machine)}" if machine and train > machine else ""
    return (
        f"parameters {format_bytes(memory.parameter_bytes)}, {memory.optimizer} state "
        f"{format_bytes(memory.optimizer_bytes)}, activations at batch {memory.batch_size} "
        f"{format_bytes(memory.activation_bytes)} forward / "
        f"{format_bytes(memory.training_activation_bytes)} training; training needs about "
        f"{format_bytes(train)}{above}"
    )


HEADER = ("Name", "Op", "Output shape", "Params", "MACs", "FLOPs", "Detail")
_NUMERIC = {3, 4, 5}


def _cells(row: Row) -> tuple[str, ...]:
    return (
        "  " * row.depth + row.name,
        row.op,
        str((None, *row.output_shape)),
        f"{row.params:,}",
        f"{row.macs:,}",
        f"{row.flops:,}",
        row.detail,
    )


def _table(table: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    rule = "-" * (sum(widths) + 2 * (len(HEADER) - 1))
    lines = [rule]
    for i, row in enumerate(table):
        cells = [
            c.rjust(w) if j in _NUMERIC else c.ljust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append(rule)
    return [*lines, rule]


def summary(spec: CanonicalSpec, batch_size: int | None = None) -> str:
    """Name, op, output shape, parameters, MACs and FLOPs per op (residual children indented),
    then totals and the activation memory at ``batch_size`` (default: the spec's)."""
    data = summary_data(spec, batch_size)
    totals = data["totals"]
    lines = [f'Model "{spec.name}"  ({spec.hash[:19]})']
    lines += _table([HEADER, *(_cells(r) for r in rows(spec))])
    lines += [
        f"Total params: {totals['params']:,}",
        f"Trainable params: {totals['trainable_params']:,}",
        f"Non-trainable params: {totals['non_trainable_params']:,}",
        f"Total MACs: {totals['macs']:,} per sample",
        f"Total FLOPs: {totals['flops']:,} per sample",
        *textwrap.wrap(
            f"({FLOPS_RULE}; bias additions not counted)",
            96,
            initial_indent="  ",
            subsequent_indent="   ",
        ),
        *_memory_footer(estimate_memory(spec, data["batch_size"])),
    ]
    return "\n".join(lines) + "\n"


def _memory_footer(memory: MemoryEstimate) -> list[str]:
    weights, train = memory.need("weights"), memory.need("train")
    return [
        f"Parameter memory: {format_bytes(memory.parameter_bytes)} ({memory.dtype})",
        f"Optimizer state: {format_bytes(memory.optimizer_bytes)} ({memory.optimizer})",
        f"Activation memory: {format_bytes(memory.activation_bytes)} forward, "
        f"{format_bytes(memory.training_activation_bytes)} training (x2: kept for the backward "
        f"pass, plus their gradients); every op's output, batch {memory.batch_size}",
        f"Training needs {train}",
        f"Weights init needs {weights}",
    ]
