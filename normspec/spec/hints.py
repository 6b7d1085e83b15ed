"""Where a setting lives, for the habits of PyTorch and Keras users.

A name that is right but in the wrong place gets a message naming the place: ``- relu`` as a
layer (an activation), ``train.lr`` (the optimizer's), ``defaults.norm_position`` (a part of
``norm``), a top-level ``input_shape`` (``input.shape``), a Keras layer config
(``{class_name: Dense, config: {...}}``), a missing ``normspec`` (the format version, 1).
"""

from __future__ import annotations

from typing import Any, get_args

import yaml

from normspec.errors import Path, shown
from normspec.spec import models as m
from normspec.spec.suggestions import closest, fold

ACTIVATIONS: tuple[str, ...] = get_args(m.ActivationName)
KERAS_KIND_KEYS = ("class_name", "type", "layer", "kind")
"""Keys naming a layer's kind in other frameworks' configs (Keras: ``class_name``)."""
_LEARNING_RATE = {"lr", "learningrate"}
_INPUT_SHAPE = {"inputshape", "inputdim", "shape", "batchinputshape"}
_NORM_PREFIXES = ("norm", "bn", "batchnorm")
_NORM_FIELDS = tuple(m.NormSpec.model_fields)
_FLOW_CHARS = 70


def flow(value: Any) -> str:
    """``value`` as YAML flow text (``{units: 10, activation: softmax}``), cut to a line: a
    long mapping keeps its first options and ends in ``...``."""
    text = _flow(value)
    if len(text) <= _FLOW_CHARS:
        return text
    if not isinstance(value, dict):
        return shown(value)
    parts: list[str] = []
    for key, item in value.items():
        part = f"{_flow(key)}: {_flow(item)}"
        if len(", ".join([*parts, part])) > _FLOW_CHARS - 7:
            break
        parts.append(part)
    return "{" + ", ".join([*parts, "..."]) + "}"


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1_000_000)
    return text.strip().removesuffix("...").strip()


def activation_named(word: str) -> str | None:
    """The activation ``word`` names (``ReLU``, ``LeakyReLU``, ``softmax``), else None."""
    if word in ACTIVATIONS:
        return word
    return closest(word, ACTIVATIONS, fuzzy=False)


def activation_as_layer(word: str) -> str | None:
    """For ``- relu`` in a layer list: where an activation goes."""
    function = activation_named(word)
    if function is None:
        return None
    return (
        f"{function} is an activation: write it as the layer '- activation: {function}', or as "
        f"'activation: {function}' in the options of the dense or conv layer before it"
    )


def foreign_layer(item: dict[Any, Any]) -> tuple[str, str, Any, Path] | None:
    """A layer written as another framework's config: ``{type: flatten}``, ``{type: dense,
    units: 10}``, ``{class_name: Dense, config: {units: 10}}``. Returns the message, the
    kind meant (or ``''``), its options and the path (under the item) they were found at."""
    if any(k in m.LAYER_KINDS for k in item):
        return None
    key = next((k for k in KERAS_KIND_KEYS if isinstance(item.get(k), str)), None)
    if key is None:
        return None
    written = str(item[key])
    kind = written if written in m.LAYER_KINDS else closest(written, m.LAYER_KINDS, fuzzy=False)
    config = item.get("config")
    where: Path
    if isinstance(config, dict) and set(item) <= {key, "config", "name"}:
        body, where = config, ("config",)
    else:
        body, where = {k: v for k, v in item.items() if k != key}, ()
    more = ", ..." if len(item) > 1 else ""
    shape = "a Keras layer config" if key == "class_name" else f"{{{key}: {flow(written)}{more}}}"
    message = f"a layer is a one-key mapping {{kind: options}}, not {shape}"
    if kind is None:
        return message + f"; {shown(written)} is no layer kind", "", body, where
    written_as = f"'- {kind}: {flow(_renamed(body, kind))}'" if body else f"'- {kind}'"
    return f"{message}: write {written_as}", kind, body, where


def _renamed(body: Any, kind: str) -> Any:
    """``body`` with other frameworks' option names turned into normspec's (``pool_size``)."""
    if not isinstance(body, dict):
        return body
    fields = list(m.LAYER_KINDS[kind][0].model_fields)
    return {
        (k if k in fields else closest(k, fields, fuzzy=False) or k) if isinstance(k, str) else k: v
        for k, v in body.items()
    }


def misplaced_key(path: Path, key: str, value: Any) -> str | None:
    """For an unknown key at ``path`` (its parent): where the setting lives, else None."""
    word = fold(key)
    if path == ("train",) and word in _LEARNING_RATE:
        return (
            "the learning rate is the optimizer's: write train: {optimizer: {kind: adam, "
            f"learning_rate: {flow(value)}}}}}, or give it to a run with --lr"
        )
    if word in ("fromlogits", "logits") and path != ("output",):
        return (
            "the top-level output section says that the model returns logits: write output: "
            "{logits: true} (its final softmax or sigmoid is then left to the loss)"
        )
    if path == () and is_input_shape(key):
        return f"the shape goes inside input: write input: {{shape: {flow(value)}}}"
    if path == () and key in m.TrainSection.model_fields:
        return f"'{key}' goes inside train: write train: {{{key}: {flow(value)}}}"
    if path == () and key in m.Defaults.model_fields:
        return f"'{key}' goes inside defaults: write defaults: {{{key}: {flow(value)}}}"
    field = _norm_field(word)
    if field is not None and (path == ("defaults",) or _is_block(path)):
        return (
            f"the norm's {field} is part of norm: write norm: {{kind: batch, {field}: "
            f"{flow(value)}}}"
        )
    return None


def is_input_shape(key: object) -> bool:
    """``key`` is a top-level ``input_shape`` (or Keras' ``input_dim``, ``batch_input_shape``)."""
    return isinstance(key, str) and fold(key) in _INPUT_SHAPE


def _norm_field(word: str) -> str | None:
    for prefix in _NORM_PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix):
            rest = word[len(prefix) :]
            if rest in _NORM_FIELDS:
                return rest
            return closest(rest, _NORM_FIELDS, fuzzy=False)
    return None


def _is_block(path: Path) -> bool:
    """``path`` is the options of a layer that has a ``norm`` (``layers[2].dense``)."""
    return bool(path) and path[-1] in ("dense", "conv1d", "conv2d", "residual_block")


def missing_key(key: str) -> str:
    if key == "normspec":
        return (
            "missing required key 'normspec', the format version: start the spec with normspec: 1"
        )
    if key == "input":
        return "missing required key 'input': write input: {shape: [...]} (channels-last)"
    return f"missing required key '{key}'"
