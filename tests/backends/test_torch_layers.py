"""The PyTorch helper layers as package code (normspec.backends.torch.layers), tested directly
against stock torch and numpy; the emitted files copy exactly this code."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from normspec.backends.named_init import NAMED  # noqa: E402
from normspec.backends.torch import helpers  # noqa: E402
from normspec.backends.torch.layers import init, inputs, norms, padded, tensors  # noqa: E402

D = torch.float64
GEN = torch.Generator().manual_seed(0)


def rand(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=GEN, dtype=D)


def test_the_emitted_text_is_the_package_code() -> None:
    import inspect

    for module in (init, inputs, norms, padded, tensors):
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) == module.__name__:
                assert helpers.HELPERS[name].source == inspect.getsource(obj).rstrip("\n")


@pytest.mark.parametrize("dims", [1, 2])
def test_padded_conv_is_the_convolution_of_the_padded_input(dims: int) -> None:
    pad = (0, 2) * dims
    conv = getattr(padded, f"PaddedConv{dims}d")(3, 4, 3, pad=pad, dtype=D)
    x = rand(2, 3, *([7] * dims))
    expected = getattr(F, f"conv{dims}d")(F.pad(x, pad), conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), expected)


@pytest.mark.parametrize("dims", [1, 2])
def test_padded_max_pool_never_picks_a_padded_cell(dims: int) -> None:
    pool = getattr(padded, f"PaddedMaxPool{dims}d")(2, stride=2, pad=(1, 0) * dims)
    x = -1.0 - rand(1, 2, *([5] * dims)).abs()  # all negative: a zero pad would win
    out = pool(x)
    assert bool((out < 0).all())
    assert out.shape[2:] == (3,) * dims


@pytest.mark.parametrize("include", [True, False])
def test_padded_avg_pool_divides_by_the_cells_it_should(include: bool) -> None:
    pool = padded.PaddedAvgPool1d(3, stride=1, pad=(1, 1), count_include_pad=include)
    out = pool(torch.ones(1, 1, 4, dtype=D))
    edge = 2 / 3 if include else 1.0  # the first window holds one padded cell
    torch.testing.assert_close(out[0, 0], torch.tensor([edge, 1, 1, edge], dtype=D))


def test_standardize_refuses_to_run_until_fitted_then_standardizes() -> None:
    layer = inputs.Standardize(2, epsilon=0.5, dtype=D)
    x = rand(10, 2, 3) * torch.tensor([3.0, 0.1], dtype=D)[None, :, None]
    with pytest.raises(RuntimeError, match="mean and std are not set"):
        layer(x)
    layer.adapt(x)
    flat = x.movedim(1, -1).reshape(-1, 2).numpy()
    np.testing.assert_allclose(layer.mean.numpy(), flat.mean(0))
    np.testing.assert_allclose(layer.std.numpy(), np.maximum(flat.std(0), 0.5))
    fresh = inputs.Standardize(2, epsilon=0.5, dtype=D)
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh(x), layer(x))


def test_rescale_flatten_reshape_and_global_pools() -> None:
    x = rand(2, 3, 4, 5)
    torch.testing.assert_close(inputs.Rescale(0.5, -1.0)(x), x * 0.5 - 1.0)
    flat = tensors.Flatten()(x)
    torch.testing.assert_close(flat, x.permute(0, 2, 3, 1).reshape(2, -1))  # channels last
    reshaped = tensors.Reshape((20, 3))(x)
    torch.testing.assert_close(reshaped.movedim(1, -1).reshape(2, -1), flat)
    torch.testing.assert_close(tensors.GlobalAvgPool()(x), x.mean(dim=(2, 3)))
    torch.testing.assert_close(tensors.GlobalMaxPool()(x), x.amax(dim=(2, 3)))


@pytest.mark.parametrize("unbiased", [True, False])
def test_batch_norm_updates_running_statistics_with_the_chosen_estimator(unbiased: bool) -> None:
    layer = norms.BatchNorm(3, eps=1e-5, momentum=0.1, scale=True, center=False,
                            unbiased=unbiased, dtype=D)  # fmt: skip
    x = rand(4, 3, 2, 2)
    out = layer(x)
    values = x.movedim(1, -1).reshape(-1, 3)
    var = values.var(dim=0, correction=int(unbiased))
    torch.testing.assert_close(layer.running_var, 0.9 + 0.1 * var)
    torch.testing.assert_close(layer.running_mean, 0.1 * values.mean(dim=0))
    stock = F.batch_norm(x, None, None, layer.weight, None, training=True, eps=1e-5)
    torch.testing.assert_close(out, stock)
    assert layer.bias is None
    layer.eval()
    expected = (x - layer.running_mean[None, :, None, None]) / torch.sqrt(
        layer.running_var[None, :, None, None] + 1e-5
    )
    torch.testing.assert_close(layer(x), expected)


def test_channel_norms_normalize_each_position_over_its_channels() -> None:
    x = rand(2, 4, 3)
    layer = norms.ChannelLayerNorm(4, eps=1e-6, scale=True, center=True, dtype=D)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=D))
    stock = nn.LayerNorm(4, eps=1e-6, elementwise_affine=True, dtype=D)
    with torch.no_grad():
        stock.weight.copy_(layer.weight)
    expected = stock(x.movedim(1, -1)).movedim(-1, 1)
    torch.testing.assert_close(layer(x), expected)
    rms = norms.ChannelRMSNorm(4, eps=1e-6, scale=False, dtype=D)
    torch.testing.assert_close(rms(x), x / torch.sqrt(x.square().mean(dim=1, keepdim=True) + 1e-6))


def test_group_norm_with_a_shift_and_no_scale() -> None:
    x = rand(2, 4, 5)
    layer = norms.GroupNorm(2, 4, eps=1e-5, scale=False, center=True, dtype=D)
    with torch.no_grad():
        layer.bias.copy_(torch.arange(4, dtype=D))
    expected = F.group_norm(x, 2, None, None, 1e-5) + torch.arange(4, dtype=D)[None, :, None]
    torch.testing.assert_close(layer(x), expected)
    assert layer.weight is None


@pytest.mark.parametrize("name", NAMED)
@pytest.mark.parametrize(
    "shape", [(10, 512), (64, 3, 3, 3), (128, 64, 3, 3), (7, 5, 2), (1, 1)], ids=str
)
def test_an_initializer_helper_draws_from_the_distribution_the_spec_records(
    name: str, shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper passes ``nn.init`` exactly the numbers ``resolve`` writes into the canonical
    spec for the weight's fans (a Linear ``(out, in)``, a convolution ``(out, in, *kernel)``)."""
    from normspec.ir import initializers
    from normspec.ir import ops as ir

    drawn: dict[str, float] = {}
    monkeypatch.setattr(nn.init, "trunc_normal_", lambda w, **kw: drawn.update(kw))
    monkeypatch.setattr(nn.init, "uniform_", lambda w, **kw: drawn.update(kw))
    getattr(init, f"{name}_")(torch.empty(shape))
    size = int(np.prod(shape[2:]))
    expected = initializers.resolve(name, shape[1] * size, shape[0] * size)
    if isinstance(expected, ir.TruncatedNormal):
        assert drawn == {"mean": 0.0, "std": expected.std, "a": expected.low, "b": expected.high}
    else:
        assert isinstance(expected, ir.Uniform)
        assert drawn == {"a": expected.low, "b": expected.high}


@pytest.mark.parametrize(
    ("layer", "emitted"),
    [
        ("- dense: {units: 4, kernel_init: he_normal}", "he_normal_(self.dense_1.weight)"),
        ("- dense: {units: 4, kernel_init: lecun_uniform}", "lecun_uniform_(self.dense_1.weight)"),
        ("- dense: {units: 4, kernel_init: kaiming_normal}", "nn.init.normal_("),
        ("- conv1d: {filters: 6, kernel_init: glorot_normal}", "glorot_normal_(self.conv1d_1"),
        ("- conv1d: {filters: 6, groups: 2, kernel_init: glorot_uniform}", "nn.init.uniform_("),
        ("- conv1d: {filters: 4, groups: 2, kernel_init: he_uniform}", "he_uniform_(self.conv"),
    ],
)
def test_a_kernel_is_drawn_by_its_named_helper_only_where_the_helper_draws_it(
    layer: str, emitted: str
) -> None:
    """Grouped convolutions keep explicit numbers for Glorot (the helper's fan-out counts one
    group); an initializer without a helper (PyTorch's untruncated normals) keeps them too."""
    from normspec.backends import get_backend
    from parity_cases import make_spec

    shape = "[6, 4]" if "conv" in layer else "[6]"
    source = get_backend("torch").emit(make_spec(shape, layer))
    assert emitted in source
