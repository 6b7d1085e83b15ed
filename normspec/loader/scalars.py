"""Plain scalars: which tag a value resolves to, and reading it as that tag.

PyYAML's YAML 1.1 resolver, minus the forms that would silently change what a spec means.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from normspec.loader.limits import MAX_NUMBER_CHARS, SHOWN_CHARS, shown

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
PLAIN_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL}

# PyYAML's YAML 1.1 number patterns without the sexagesimal forms: ``1:30`` stays the text it
# looks like (and fails validation where a number is wanted) instead of silently becoming 90.
_INT_RE = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [
        (tag, _INT_RE if tag == _INT else _FLOAT_RE if tag == _FLOAT else regexp)
        for tag, regexp in resolvers
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if first is not None
}


class Invalid(Exception):
    """A scalar that cannot be read as its tag says; the message explains why."""


def resolve(value: str) -> str:
    """The tag of a plain scalar, as PyYAML's resolver finds it (but see :data:`_INT_RE`)."""
    for tag, regexp in _RESOLVERS.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return _STR


def implicit_message(tag: str, value: str) -> str:
    if tag == _TIMESTAMP:
        text = value[:SHOWN_CHARS]
        return f"{text} reads as a date in YAML; quote it ('{text}') to use it as text"
    meaning = tag.rsplit(":", 1)[-1]
    return f"{shown(value)} has a special meaning in YAML ({meaning}); quote it to use it as text"


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def convert(tag: str, value: str) -> Any:
    """``value`` read as ``tag`` (null, bool, int or float); :class:`Invalid` if it is not one."""
    if tag == _NULL:
        return None
    if tag == _BOOL:
        found = _CONSTRUCTOR.bool_values.get(value.lower())
        if found is None:
            raise Invalid(f"{shown(value)} is not a valid boolean")
        return found
    if len(value) > MAX_NUMBER_CHARS:
        raise Invalid(
            f"number too large: {len(value):,} characters "
            f"(numbers are limited to {MAX_NUMBER_CHARS})"
        )
    node = yaml.ScalarNode(tag, value)
    try:
        if tag == _INT:
            return _CONSTRUCTOR.construct_yaml_int(node)
        return _CONSTRUCTOR.construct_yaml_float(node)
    except (ValueError, IndexError) as exc:
        kind = "integer" if tag == _INT else "number"
        raise Invalid(f"{shown(value)} is not a valid {kind}") from exc
