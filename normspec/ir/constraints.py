"""The ranges and name rules every spec obeys, in one place: the user-facing spec models, the
canonical IR and the command-line options all take them from here, so a value is accepted or
refused the same way wherever it comes from (YAML, ``model_validate`` in Python, ``--lr``)."""

from __future__ import annotations

import keyword
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_SIZE = 1 << 20
"""Upper bound for any single size (units, filters, a dimension): 1,048,576."""
MAX_NAME = 64
"""Longest name a spec may give; names normspec derives (``conv_1_bn``) may be longer."""
MAX_DERIVED_NAME = 255
MIN_BATCH, MAX_BATCH = 2, 1 << 16
"""A batch of one sample is refused: batch statistics need two samples, and a run whose every
batch is dropped takes no step."""
MAX_EPOCHS = 100_000
MAX_SEED = 2**31 - 1
MAX_LEARNING_RATE = 1e3
"""Larger learning rates overflow optimizer arithmetic (``--lr 1e308`` made Adam's update inf)."""

RESERVED_NAMES = frozenset(
    {
        # names the generated modules and their methods use
        "self", "x", "inputs", "outputs", "model", "forward", "call", "build", "train", "eval",
        "training", "modules", "parameters", "buffers", "state", "layers", "weights", "variables",
        "name", "dtype", "input", "output", "rngs", "config", "normspec", "torch", "keras", "jax",
        "jnp", "nn", "nnx", "np", "ops", "tf", "F", "math", "logits", "probabilities",
        "probability_model",
        # attributes of torch.nn.Module, which the generated PyTorch class inherits
        "T_destination", "add_module", "apply", "bfloat16", "call_super_init", "children",
        "compile", "cpu", "cuda", "double", "dump_patches", "extra_repr", "float",
        "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu",
        "load_state_dict", "mtia", "named_buffers", "named_children", "named_modules",
        "named_parameters", "register_backward_hook", "register_buffer",
        "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
        "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook", "register_module", "register_parameter",
        "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
        "reset_parameters", "set_extra_state", "set_submodule", "share_memory", "state_dict",
        "to", "to_empty", "type", "xpu", "zero_grad",
    }
)  # fmt: skip
"""Names a layer cannot take: they would shadow a name of the generated code (Flax renames
clashing attributes itself, so nnx.Module's own names are not here)."""


def is_identifier(value: object) -> bool:
    """An ASCII Python identifier that is not a keyword and does not
    start with ``_``: safe to print as an attribute, a variable or part of a class name."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_DERIVED_NAME
        and value.isascii()
        and value.isidentifier()
        and not keyword.iskeyword(value)
        and not value.startswith("_")
    )


def check_identifier(value: str) -> str:
    if not is_identifier(value):
        raise ValueError(
            "must be a valid identifier: ASCII letters, digits and '_', not starting with a "
            f"digit or '_', at most {MAX_DERIVED_NAME} characters, and not a Python keyword"
        )
    return value


def check_layer_name(value: str) -> str:
    check_identifier(value)
    if value in RESERVED_NAMES:
        raise ValueError(f"'{value}' is reserved by the generated code; choose another name")
    return value


Identifier = Annotated[str, AfterValidator(check_identifier)]
"""A spec's name."""
LayerName = Annotated[str, AfterValidator(check_layer_name)]
"""An op's name: an identifier that no name of the generated code uses."""
Size = Annotated[int, Field(ge=1, le=MAX_SIZE)]
NonNegative = Annotated[int, Field(ge=0, le=MAX_SIZE)]
Count = Annotated[int, Field(ge=0)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
Epsilon = Annotated[float, Field(gt=0.0, le=1.0)]
Momentum = Annotated[float, Field(gt=0.0, le=1.0)]
Beta = Annotated[float, Field(ge=0.0, lt=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
LearningRate = Annotated[float, Field(gt=0.0, le=MAX_LEARNING_RATE)]
BatchSize = Annotated[int, Field(ge=MIN_BATCH, le=MAX_BATCH)]
Epochs = Annotated[int, Field(ge=1, le=MAX_EPOCHS)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
ValidationSplit = Annotated[float, Field(ge=0.0, lt=1.0)]
