"""Build the emitted PyTorch model and move canonical weights and activations in and out.

Canonical arrays are numpy and channels-last; the model is channels-first. Layouts: a dense
kernel ``(in, out)`` is ``Linear.weight.T``; a conv kernel ``(*kernel, in / groups, out)`` is
``Conv.weight`` ``(out, in / groups, *kernel)`` with its axes moved; per-channel vectors are the
same in both.
"""

from __future__ import annotations

import contextlib
import linecache
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from normspec.backends.torch.emitter import WEIGHT_MAPS
from normspec.backends.torch.module import class_name, emit_module, module_paths
from normspec.backends.weight_maps import Slot, slot
from normspec.ir import ops as ir
from normspec.ir.graph import CanonicalSpec, WeightSpec
from normspec.ir.nodes import INPUT
from normspec.ir.output_checks import returns_logits
from normspec.weights import Weights, check_weights


def build(spec: CanonicalSpec) -> nn.Module:
    """Execute the emitted source and construct the model in ``spec.input.dtype``."""
    source = emit_module(spec)
    filename = f"<normspec:{spec.name}:{spec.hash[7:19]}>"
    # Registered so tracebacks and inspect.getsource (TorchScript) can show the generated code.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, object] = {"__name__": f"normspec_generated_{spec.name}"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[class_name(spec)]()  # type: ignore[operator]


def _slot(model: nn.Module, path: str, op: ir.Op, w: WeightSpec) -> tuple[torch.Tensor, Slot]:
    """The tensor of ``model`` holding weight ``w`` of ``op`` (whose module is at ``path``),
    and its slot (layout)."""
    where = slot(WEIGHT_MAPS, op, w.role.name)
    return getattr(model.get_submodule(path), where.attribute), where


def _kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
    """``(in, out)`` -> ``(out, in)``; ``(*kernel, in, out)`` -> ``(out, in, *kernel)``."""
    spatial = kernel.ndim - 2
    return np.transpose(kernel, (spatial + 1, spatial, *range(spatial)))


def _kernel_from_torch(weight: np.ndarray) -> np.ndarray:
    spatial = weight.ndim - 2
    return np.transpose(weight, (*range(2, spatial + 2), 1, 0))


def _weights(spec: CanonicalSpec) -> Iterator[tuple[str, ir.Op, WeightSpec]]:
    """Every canonical weight with the path of its op's module and its op, in canonical
    order."""
    paths = module_paths(spec)
    for node in spec.nodes:
        for w in node.op.weights(node.input_shape):
            yield paths[node.name], node.op, w


def set_weights(model: nn.Module, spec: CanonicalSpec, weights: Weights) -> None:
    """Load canonical weights, running statistics included, into ``model``."""
    check_weights(spec, weights)
    with torch.no_grad():
        for path, op, w in _weights(spec):
            target, where = _slot(model, path, op, w)
            value = np.asarray(weights[w.key])
            if where.layout == "channels_first":
                value = _kernel_to_torch(value)
            target.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(target.dtype))
    for node in spec.nodes:
        if isinstance(node.op, ir.Standardize):
            standardize: Any = model.get_submodule(node.op.name)
            standardize.fitted = True  # its statistics are set now


def get_weights(model: nn.Module, spec: CanonicalSpec) -> Weights:
    """Canonical weights of ``model``, as numpy arrays in the model's dtype."""
    out: Weights = {}
    for path, op, w in _weights(spec):
        tensor, where = _slot(model, path, op, w)
        value = tensor.detach().cpu().numpy()
        if where.layout == "channels_first":
            value = _kernel_from_torch(value)
        out[w.key] = np.ascontiguousarray(value).copy()
    return out


def weight_gradients(model: nn.Module, spec: CanonicalSpec) -> Weights:
    """The ``.grad`` of every trainable canonical weight (canonical layout; zeros where the
    loss did not reach it)."""
    out: Weights = {}
    for path, op, w in _weights(spec):
        if not w.trainable:
            continue
        tensor, where = _slot(model, path, op, w)
        grad = tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)
        value = grad.detach().cpu().numpy()
        if where.layout == "channels_first":
            value = _kernel_from_torch(value)
        out[w.key] = np.ascontiguousarray(value).copy()
    return out


def model_dtype(spec: CanonicalSpec) -> torch.dtype:
    return torch.float64 if spec.input.dtype == "float64" else torch.float32


def to_torch(x: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """Channels-last numpy ``(N, *spatial, C)`` -> channels-first tensor ``(N, C, *spatial)``,
    kept in its channels-last memory layout (a view: PyTorch's ``channels_last`` format for
    images), in which CPU convolutions run faster than on a contiguous copy (a ``cifar_cnn``
    forward of 256 images: 205 ms instead of 279, as fast as a hand-written model fed
    ``permute(0, 3, 1, 2)``)."""
    tensor = torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    return tensor.movedim(-1, 1) if tensor.dim() > 2 else tensor


def to_numpy(x: torch.Tensor) -> np.ndarray:
    """Channels-first tensor -> channels-last numpy array."""
    x = x.detach()
    return (x.movedim(1, -1) if x.dim() > 2 else x).cpu().numpy().copy()


@contextlib.contextmanager
def mode(model: nn.Module, *, train: bool, dropout: bool) -> Iterator[None]:
    """Train or eval mode, dropout active or not (inactive dropout is the identity, which is
    what comparing outputs needs); the previous modes are restored on exit."""
    before = {m: m.training for m in model.modules()}
    model.train(train)
    if not dropout:
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()
    try:
        yield
    finally:
        for m, training in before.items():
            m.training = training


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """float32 matrix products and convolutions in full float32 on GPUs for the duration:
    PyTorch lets cuDNN convolutions use TF32 by default, which parity cannot tolerate."""
    flags: tuple[Any, ...] = (torch.backends.cuda.matmul, torch.backends.cudnn)
    saved = [f.allow_tf32 for f in flags]
    for f in flags:
        f.allow_tf32 = False
    try:
        yield
    finally:
        for f, value in zip(flags, saved, strict=True):
            f.allow_tf32 = value


def forward(
    model: nn.Module, spec: CanonicalSpec, x: np.ndarray, *, train: bool, nodes: bool = True
) -> dict[str, np.ndarray]:
    """Every node's output (channels-last numpy, in node order) and ``"output"``, the model's (a
    model that returns logits does not apply its final activation: its module is run on them);
    ``"output"`` alone with ``nodes=False``.

    Forward hooks record each op module's output (inside a block, the block's module:
    ``residual_block_3.conv1``). A join is no module (``forward`` adds the
    values it reads): its value is the sum of the recorded values it reads, in the order
    ``forward`` adds them.
    """
    recorded: dict[str, torch.Tensor] = {}
    handles = []
    paths = module_paths(spec)
    for node in spec.nodes if nodes else []:
        if isinstance(node.op, ir.Join):
            continue
        module = model.get_submodule(paths[node.name])
        handles.append(module.register_forward_hook(_recorder(recorded, node.name)))
    try:
        with torch.no_grad(), mode(model, train=train, dropout=False), full_precision():
            device = next(model.parameters(), torch.empty(0)).device
            inputs = to_torch(x, model_dtype(spec)).to(device)
            output = model(inputs)
            if not nodes:
                return {"output": to_numpy(output)}
            if returns_logits(spec):  # the final activation, as ``probabilities`` applies it
                model.get_submodule(spec.nodes[-1].name)(output)
            values = {INPUT: inputs, **recorded}
            for node in spec.nodes:
                if isinstance(node.op, ir.Join):
                    values[node.name] = _join(node.op, [values[n] for n in node.inputs])
    finally:
        for handle in handles:
            handle.remove()
    outputs = {node.name: to_numpy(values[node.name]) for node in spec.nodes}
    outputs["output"] = to_numpy(output)
    return outputs


def _join(op: ir.Join, values: list[torch.Tensor]) -> torch.Tensor:
    """What ``forward`` computes for a join, on the recorded (channels-first) values."""
    if isinstance(op, ir.Concat):
        return torch.cat(values, dim=1)
    rank = len(op.shape) + 1
    result = values[0]
    for value in values[1:]:
        if isinstance(op, ir.Multiply):
            value = value.reshape(*value.shape, *(1,) * (rank - value.dim()))
            result = result.reshape(*result.shape, *(1,) * (rank - result.dim()))
            result = result * value
        else:
            result = result + value
    return result


def _recorder(recorded: dict[str, torch.Tensor], name: str) -> Callable[..., None]:
    def hook(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        recorded[name] = out

    return hook
