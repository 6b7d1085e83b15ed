"""Small modules the generated PyTorch file defines when stock ``torch.nn`` cannot compute
exactly what the IR says. Each is written once here as source text and copied into a generated
module only when one of its ops needs it.

Every helper takes and returns channels-first tensors ``(N, C, *spatial)``, like ``torch.nn``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Helper:
    source: str
    needs: tuple[str, ...] = ()
    """Other helpers and imports (``Any``, ``F``) the source refers to."""


_PADDED = '''
class Padded{kind}{dims}d(nn.{kind}{dims}d):
    """``nn.{kind}{dims}d`` after {value} padding ``pad`` = {order}.

    Its own padding is symmetric; TF/XLA 'same' may put one more cell at the end.
    """

    def __init__(self, *args: Any, pad: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(*args, padding=0, **kwargs)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return {call}
'''

_BASE_CALLS = {
    "Conv": "self._conv_forward(F.pad(x, self.pad), self.weight, self.bias)",
    "MaxPool": (
        "F.max_pool{dims}d(\n"
        "            F.pad(x, self.pad, value=-torch.inf),\n"
        "            self.kernel_size,\n"
        "            self.stride,\n"
        "            0,\n"
        "            self.dilation,\n"
        "            ceil_mode=self.ceil_mode,\n"
        "        )"
    ),
}
"""The base class's forward written out (TorchScript cannot call ``super().forward``)."""

_PADDED_AVG_POOL = '''
class PaddedAvgPool{dims}d(nn.AvgPool{dims}d):
    """``nn.AvgPool{dims}d`` after zero padding ``pad`` = {order}.

    Its own padding is symmetric; TF/XLA 'same' may put one more cell at the end.
    ``count_include_pad=False`` divides by the number of cells inside the input.
    """

    def __init__(
        self, *args: Any, pad: tuple[int, ...], count_include_pad: bool, **kwargs: Any
    ) -> None:
        # Padded zeros enter every window sum; the divisor is corrected in forward.
        super().__init__(*args, padding=0, count_include_pad=True, **kwargs)
        self.pad = pad
        self.include_pad = count_include_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._pool(F.pad(x, self.pad))
        if self.include_pad:
            return out
        inside = self._pool(F.pad(torch.ones_like(x[:1, :1]), self.pad))
        return out / inside

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool{dims}d(x, self.kernel_size, self.stride, 0, self.ceil_mode, True)
'''

_ORDER = {1: "(left, right)", 2: "(left, right, top, bottom)"}
"""``F.pad`` order: the last axis first."""


def _padded(kind: str, dims: int) -> Helper:
    if kind == "AvgPool":
        return Helper(_PADDED_AVG_POOL.format(dims=dims, order=_ORDER[dims]), ("Any", "F"))
    value = "zero" if kind == "Conv" else "-inf"
    call = _BASE_CALLS[kind].format(dims=dims)
    source = _PADDED.format(kind=kind, dims=dims, order=_ORDER[dims], value=value, call=call)
    return Helper(source, ("Any", "F"))


PER_CHANNEL = '''
def per_channel(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``values`` (C,) viewed to broadcast over ``x`` (N, C, *spatial)."""
    shape = [-1] + [1] * (x.dim() - 2)
    return values.view(shape)
'''

STANDARDIZE = '''
class Standardize(nn.Module):
    """Input standardization ``(x - mean) / std`` per channel; the statistics are
    buffers (state, not trained).

    Without ``mean`` and ``std`` they are to be fitted: call ``adapt(x)`` on the
    training inputs (N, C, *spatial), or load weights that hold them
    (``load_state_dict``); until then the module refuses to run. ``adapt`` takes the
    population std, floored at ``epsilon``, computed in float64.
    """

    def __init__(
        self,
        channels: int,
        *,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        epsilon: float,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.epsilon = epsilon
        self.fitted = mean is not None and std is not None
        unset = torch.full((channels,), torch.nan, dtype=dtype)
        fixed_mean = None if mean is None else torch.tensor(mean, dtype=dtype)
        fixed_std = None if std is None else torch.tensor(std, dtype=dtype)
        self.register_buffer("mean", unset if fixed_mean is None else fixed_mean)
        self.register_buffer("std", unset.clone() if fixed_std is None else fixed_std)

    @torch.no_grad()
    def adapt(self, x: torch.Tensor) -> None:
        """Fits mean and std on ``x`` (N, C, *spatial) over all but the channel axis."""
        x = torch.as_tensor(x, dtype=torch.float64).movedim(1, -1)
        x = x.reshape(-1, self.mean.numel())
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(x.std(dim=0, correction=0).clamp_min(self.epsilon))
        self.fitted = True

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.fitted = prefix + "mean" in state_dict and prefix + "std" in state_dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            if bool(torch.isnan(self.std).any()):
                raise RuntimeError(
                    "Standardize: mean and std are not set; call its adapt(x_train) "
                    "with the training inputs (N, C, ...), or load weights that hold "
                    "them (normspec weights convert SPEC W.safetensors -o W.pt, "
                    "then model.load_state_dict(torch.load('W.pt')))"
                )
            self.fitted = True
        return (x - per_channel(self.mean, x)) / per_channel(self.std, x)
'''

RESCALE = '''
class Rescale(nn.Module):
    """Input rescaling ``x * scale + offset``."""

    def __init__(self, scale: float, offset: float) -> None:
        super().__init__()
        self.scale = scale
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset
'''

FLATTEN = '''
class Flatten(nn.Module):
    """Flattens (N, C, *spatial) in channels-last order (*spatial, C), the order of the
    canonical weights of the layer that follows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x.movedim(1, -1), 1)
'''

RESHAPE = '''
class Reshape(nn.Module):
    """Reshapes the channels-last view of ``x`` to ``(N, *shape)``, then returns it
    channels-first: the target shape is in channels-last order, as in the spec."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.movedim(1, -1).reshape(x.shape[0], *self.shape).movedim(-1, 1)
'''

GLOBAL_AVG_POOL = '''
class GlobalAvgPool(nn.Module):
    """Mean over every spatial axis: (N, C, *spatial) -> (N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).mean(dim=2)
'''

GLOBAL_MAX_POOL = '''
class GlobalMaxPool(nn.Module):
    """Maximum over every spatial axis: (N, C, *spatial) -> (N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).amax(dim=2)
'''

BATCH_NORM = '''
class BatchNorm(nn.Module):
    """Batch normalization over every axis but the channels, for what
    ``nn.BatchNorm2d`` cannot do: update the running variance with the biased estimator
    (divide by n, as Keras and Flax; ``nn.BatchNorm2d`` divides by n - 1), or have a
    scale without a shift or the reverse.

    Train mode normalizes with the batch mean and biased variance and updates
    ``running = (1 - momentum) * running + momentum * batch``; eval mode uses the
    running statistics.
    """

    def __init__(
        self,
        num_features: int,
        *,
        eps: float,
        momentum: float,
        scale: bool,
        center: bool,
        unbiased: bool,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.unbiased = unbiased
        ones = torch.ones(num_features, dtype=dtype)
        self.weight = nn.Parameter(ones.clone()) if scale else None
        self.bias = nn.Parameter(torch.zeros_like(ones)) if center else None
        self.register_buffer("running_mean", torch.zeros_like(ones))
        self.register_buffer("running_var", ones)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            dims = [0] + [d for d in range(2, x.dim())]  # every axis but channels
            m = self.momentum
            with torch.no_grad():
                var, mean = torch.var_mean(x, dim=dims, correction=int(self.unbiased))
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var, alpha=m)
            return F.batch_norm(
                x, None, None, self.weight, self.bias, training=True, eps=self.eps
            )
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=False,
            eps=self.eps,
        )
'''

_AFFINE_INIT = """        super().__init__()
        self.eps = eps
        ones = torch.ones(num_channels, dtype=dtype)
        self.weight = nn.Parameter(ones) if scale else None
        self.bias = nn.Parameter(torch.zeros_like(ones)) if center else None
"""

CHANNEL_LAYER_NORM = f'''
class ChannelLayerNorm(nn.Module):
    """Layer normalization over the channels (dim 1) of each position, with an optional
    per-channel scale and shift: ``nn.LayerNorm`` normalizes the trailing axes instead,
    and its shift cannot exist without its scale."""

    def __init__(
        self,
        num_channels: int,
        *,
        eps: float,
        scale: bool,
        center: bool,
        dtype: torch.dtype,
    ) -> None:
{_AFFINE_INIT}
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=0)
        x = (x - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            x = x * per_channel(self.weight, x)
        if self.bias is not None:
            x = x + per_channel(self.bias, x)
        return x
'''

GROUP_NORM = f'''
class GroupNorm(nn.Module):
    """``nn.GroupNorm`` with the scale and the shift each optional (the affine of
    ``nn.GroupNorm`` is all or nothing)."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        *,
        eps: float,
        scale: bool,
        center: bool,
        dtype: torch.dtype,
    ) -> None:
{_AFFINE_INIT}        self.num_groups = num_groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
'''

CHANNEL_RMS_NORM = '''
class ChannelRMSNorm(nn.Module):
    """RMS normalization ``x / sqrt(mean(x^2) + eps)`` over the channels (dim 1) of each
    position, with an optional per-channel scale (``nn.RMSNorm`` normalizes trailing
    axes)."""

    def __init__(
        self, num_channels: int, *, eps: float, scale: bool, dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.eps = eps
        ones = torch.ones(num_channels, dtype=dtype)
        self.weight = nn.Parameter(ones) if scale else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)
        if self.weight is not None:
            x = x * per_channel(self.weight, x)
        return x
'''

PADDED_KINDS = ("Conv", "MaxPool", "AvgPool")

HELPERS: dict[str, Helper] = {
    "per_channel": Helper(PER_CHANNEL),
    "Standardize": Helper(STANDARDIZE, ("per_channel", "Any")),
    "Rescale": Helper(RESCALE),
    "Flatten": Helper(FLATTEN),
    "Reshape": Helper(RESHAPE),
    "GlobalAvgPool": Helper(GLOBAL_AVG_POOL),
    "GlobalMaxPool": Helper(GLOBAL_MAX_POOL),
    **{f"Padded{kind}{d}d": _padded(kind, d) for kind in PADDED_KINDS for d in (1, 2)},
    "BatchNorm": Helper(BATCH_NORM, ("F",)),
    "ChannelLayerNorm": Helper(CHANNEL_LAYER_NORM, ("per_channel",)),
    "GroupNorm": Helper(GROUP_NORM, ("F",)),
    "ChannelRMSNorm": Helper(CHANNEL_RMS_NORM, ("per_channel",)),
}
"""Helper name -> source; the generated module lists the helpers it uses in this order."""

IMPORTS = ("Any", "F")
"""Names in ``needs`` that are imports rather than helpers."""


def closure(names: set[str]) -> list[str]:
    """``names`` with every helper they need, in :data:`HELPERS` order (imports excluded)."""
    wanted = set(names)
    pending = list(names)
    while pending:
        for need in HELPERS[pending.pop()].needs:
            if need not in IMPORTS and need not in wanted:
                wanted.add(need)
                pending.append(need)
    return [name for name in HELPERS if name in wanted]
