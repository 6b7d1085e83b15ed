"""The stock layers' argument forms, shared by the custom layers that take them: padding
pairs, the data format, and saved configs' lists back to tuples.

The emitted module copies these functions whenever it defines a layer that uses them.
"""

import keras


def padding_pairs(padding, rank):
    """ZeroPadding's forms as one (before, after) pair per spatial axis: an int for
    every side, one int per axis for both its sides, or the pairs (in 1D also a single
    bare pair)."""
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    if rank == 1 and len(padding) == 2 and all(isinstance(p, int) for p in padding):
        return (tuple(padding),)
    pairs = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
    if len(pairs) != rank or any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"padding {padding!r} does not fit {rank} spatial axes")
    return pairs


def spatial_pads(pairs, data_format):
    """The pairs with the batch and channel axes (unpadded) around them."""
    if data_format == "channels_first":
        return [(0, 0), (0, 0), *pairs]
    return [(0, 0), *pairs, (0, 0)]


def image_data_format(data_format):
    data_format = data_format or keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format {data_format!r} is not a Keras data format")
    return data_format


def as_tuples(value):
    """Lists (as a saved config holds them) back to tuples; numbers and names as is."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    return tuple(as_tuples(v) for v in value)
