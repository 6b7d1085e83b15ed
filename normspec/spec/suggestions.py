""" "Did you mean" hints for unknown keys, layer kinds and values.

A word is matched against the names allowed where it was written: first ignoring case and
``_``/``-`` (``ReLU``, ``MaxPool2d``, ``BatchNorm``), then through :data:`ALIASES`, the names
other frameworks use for the same thing (``BatchNormalization``, ``Dense``, ``lr``), and last by
closeness of spelling (``flaten``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

ALIASES: dict[str, tuple[str, ...]] = {
    # layers (and the norm kinds of defaults.norm / a block's norm)
    "batchnormalization": ("batch_norm", "batch"),
    "batchnorm1d": ("batch_norm", "batch"),
    "batchnorm2d": ("batch_norm", "batch"),
    "bn": ("batch_norm", "batch"),
    "layernormalization": ("layer_norm", "layer"),
    "ln": ("layer_norm", "layer"),
    "groupnormalization": ("group_norm", "group"),
    "gn": ("group_norm", "group"),
    "instancenormalization": ("instance_norm", "instance"),
    "instancenorm1d": ("instance_norm", "instance"),
    "instancenorm2d": ("instance_norm", "instance"),
    "rmsnormalization": ("rms_norm", "rms"),
    "linear": ("dense",),
    "fc": ("dense",),
    "fullyconnected": ("dense",),
    "convolution1d": ("conv1d",),
    "convolution2d": ("conv2d",),
    "maxpooling1d": ("max_pool1d",),
    "maxpooling2d": ("max_pool2d",),
    "averagepooling1d": ("avg_pool1d",),
    "averagepooling2d": ("avg_pool2d",),
    "avgpooling2d": ("avg_pool2d",),
    "globalaveragepooling1d": ("global_avg_pool",),
    "globalaveragepooling2d": ("global_avg_pool",),
    "adaptiveavgpool2d": ("global_avg_pool",),
    "globalmaxpooling1d": ("global_max_pool",),
    "globalmaxpooling2d": ("global_max_pool",),
    "adaptivemaxpool2d": ("global_max_pool",),
    "dropout1d": ("dropout",),
    "dropout2d": ("dropout",),
    "spatialdropout2d": ("dropout",),
    "residualblock": ("residual_block",),
    "basicblock": ("residual_block",),
    # activations
    "swish": ("silu",),
    "leakyrelu": ("leaky_relu",),
    "identity": ("linear",),
    "none": ("linear",),
    # keys
    "lr": ("learning_rate",),
    "learningrate": ("learning_rate",),
    "eps": ("epsilon",),
    "kernelsize": ("kernel",),
    "poolsize": ("pool",),
    "stride": ("strides",),
    "outchannels": ("filters",),
    "outfeatures": ("units",),
    "p": ("rate",),
    "bias": ("use_bias",),
    "kernelinitializer": ("kernel_init",),
    "biasinitializer": ("bias_init",),
    "betas": ("beta1",),
    "dilationrate": ("dilation",),
    "numgroups": ("groups",),
    "inputshape": ("shape",),
    # values
    "categoricalcrossentropy": ("cross_entropy",),
    "sparsecategoricalcrossentropy": ("cross_entropy",),
    "crossentropyloss": ("cross_entropy",),
    "nllloss": ("cross_entropy",),
    "ce": ("cross_entropy",),
    "binarycrossentropy": ("binary_cross_entropy",),
    "bceloss": ("binary_cross_entropy",),
    "bcewithlogitsloss": ("binary_cross_entropy",),
    "bce": ("binary_cross_entropy",),
    "mse": ("mean_squared_error",),
    "mseloss": ("mean_squared_error",),
    "meansquarederror": ("mean_squared_error",),
}
"""Other frameworks' names (folded: lower case, no ``_`` or ``-``) -> normspec's names, in
order of preference; the first one allowed where the word was written is suggested."""


_LONGEST = 64
"""Longer words are not names anyone meant: no hint is looked for."""


def fold(word: str) -> str:
    """``MaxPool_2D`` -> ``maxpool2d``: the form in which names are compared."""
    return word.lower().replace("_", "").replace("-", "")


def closest(word: str, choices: Iterable[str], *, fuzzy: bool = True) -> str | None:
    """The allowed name ``word`` most likely means, or ``None``; without ``fuzzy``, only a
    name equal to it but for case and ``_``/``-``, or another framework's name for it."""
    if len(word) > _LONGEST:
        return None
    allowed = [c for c in choices if c != word]
    folded = {fold(c): c for c in reversed(allowed)}
    key = fold(word)
    if key in folded:
        return folded[key]
    for target in ALIASES.get(key, ()):
        if target in allowed:
            return target
    if not fuzzy:
        return None
    match = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when ``word`` likely means one of ``choices``, else ``''``."""
    match = closest(word, choices)
    return f" (did you mean '{match}'?)" if match else ""
