"""Hand-written Keras 3 versions of cifar_cnn, resnet18 and digits_cnn (channels-last,
functional API)."""

from __future__ import annotations

import keras
from keras import layers


def conv_bn_relu(x, filters: int):  # type: ignore[no-untyped-def]
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    return layers.ReLU()(x)


def cifar_cnn() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in (32, 64, 128):
        x = conv_bn_relu(conv_bn_relu(x, filters), filters)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def basic_block(x, filters: int, stride: int):  # type: ignore[no-untyped-def]
    shortcut = x
    out = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False)(x)
    out = layers.ReLU()(layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(out))
    out = layers.Conv2D(filters, 3, padding="same", use_bias=False)(out)
    out = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(out)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, stride, use_bias=False)(x)
        shortcut = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(shortcut)
    return layers.ReLU()(layers.Add()([out, shortcut]))


def resnet18() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = layers.Normalization(mean=[0.0, 0.0, 0.0], variance=[1.0, 1.0, 1.0])(inputs)
    x = conv_bn_relu(x, 64)
    for filters, stride in [
        (64, 1),
        (64, 1),
        (128, 2),
        (128, 1),
        (256, 2),
        (256, 1),
        (512, 2),
        (512, 1),
    ]:
        x = basic_block(x, filters, stride)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10)(x))


def digits_cnn(mean: float, std: float) -> keras.Model:
    """specs/digits_cnn.yaml: standardized 8x8 input, two conv-BN-ReLU, pool, BN-ReLU dense."""
    inputs = keras.Input((8, 8, 1))
    x = layers.Normalization(mean=mean, variance=std**2)(inputs)
    x = layers.MaxPooling2D(2)(conv_bn_relu(conv_bn_relu(x, 16), 32))
    x = layers.Dense(64, use_bias=False)(layers.Flatten()(x))
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


MODELS = {"cifar_cnn": cifar_cnn, "resnet18": resnet18}
