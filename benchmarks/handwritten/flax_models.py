"""Hand-written Flax NNX versions of cifar_cnn, resnet18 and digits_cnn (channels-last)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx

BatchNorm = partial(nnx.BatchNorm, momentum=0.9, epsilon=1e-5, use_fast_variance=False)


class ConvBnRelu(nnx.Module):
    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs, stride: int = 1) -> None:
        self.conv = nnx.Conv(cin, cout, (3, 3), strides=stride, padding=((1, 1), (1, 1)),
                             use_bias=False, rngs=rngs)  # fmt: skip
        self.bn = BatchNorm(cout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return nnx.relu(self.bn(self.conv(x)))


class CifarCnn(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        chans = [(3, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128)]
        self.convs = nnx.List([ConvBnRelu(a, b, rngs=rngs) for a, b in chans])
        self.fc1 = nnx.Linear(2048, 128, use_bias=False, rngs=rngs)
        self.bn = BatchNorm(128, rngs=rngs)
        self.fc2 = nnx.Linear(128, 10, rngs=rngs)

    def logits(self, x: jax.Array) -> jax.Array:
        """What enters the final softmax; the loss is
        ``optax.softmax_cross_entropy_with_integer_labels`` of it."""
        x = x * (1 / 255)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i % 2:
                x = nnx.max_pool(x, (2, 2), strides=(2, 2))
        x = nnx.relu(self.bn(self.fc1(x.reshape(x.shape[0], -1))))
        return self.fc2(x)

    def __call__(self, x: jax.Array) -> jax.Array:
        return nnx.softmax(self.logits(x), axis=-1)


class BasicBlock(nnx.Module):
    def __init__(self, cin: int, cout: int, stride: int, *, rngs: nnx.Rngs) -> None:
        self.conv1 = ConvBnRelu(cin, cout, rngs=rngs, stride=stride)
        self.conv2 = nnx.Conv(cout, cout, (3, 3), padding=((1, 1), (1, 1)), use_bias=False,
                              rngs=rngs)  # fmt: skip
        self.bn2 = BatchNorm(cout, rngs=rngs)
        self.project = stride != 1 or cin != cout
        if self.project:
            self.proj = nnx.Conv(cin, cout, (1, 1), strides=stride, padding="VALID",
                                 use_bias=False, rngs=rngs)  # fmt: skip
            self.proj_bn = BatchNorm(cout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out = self.bn2(self.conv2(self.conv1(x)))
        shortcut = self.proj_bn(self.proj(x)) if self.project else x
        return nnx.relu(out + shortcut)


class ResNet18(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.mean = nnx.BatchStat(jnp.zeros(3, jnp.float32))
        self.std = nnx.BatchStat(jnp.ones(3, jnp.float32))
        self.stem = ConvBnRelu(3, 64, rngs=rngs)
        plan = [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]
        blocks, cin = [], 64
        for cout, stride in plan:
            blocks.append(BasicBlock(cin, cout, stride, rngs=rngs))
            cin = cout
        self.blocks = nnx.List(blocks)
        self.fc = nnx.Linear(512, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.stem((x - self.mean[...]) / self.std[...])
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(axis=(1, 2)))


class DigitsCnn(nnx.Module):
    """specs/digits_cnn.yaml: standardized 8x8 input, two conv-BN-ReLU, pool, BN-ReLU dense."""

    def __init__(self, mean: float, std: float, *, rngs: nnx.Rngs) -> None:
        self.mean, self.std = mean, std
        self.conv1 = ConvBnRelu(1, 16, rngs=rngs)
        self.conv2 = ConvBnRelu(16, 32, rngs=rngs)
        self.fc1 = nnx.Linear(4 * 4 * 32, 64, use_bias=False, rngs=rngs)
        self.bn = BatchNorm(64, rngs=rngs)
        self.fc2 = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits; the loss is ``optax.softmax_cross_entropy_with_integer_labels``."""
        x = self.conv2(self.conv1((x - self.mean) / self.std))
        x = nnx.max_pool(x, (2, 2), strides=(2, 2))
        return self.fc2(nnx.relu(self.bn(self.fc1(x.reshape(x.shape[0], -1)))))


MODELS = {"cifar_cnn": CifarCnn, "resnet18": ResNet18}
