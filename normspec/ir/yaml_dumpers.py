"""The YAML dumpers of the canonical form: block style for mappings, flow style for lists of
scalars (and of lists of scalars).

:class:`PythonDumper` is PyYAML's pure-Python safe dumper with that list style; its output is
the reference. :data:`CDumper`, when PyYAML has libyaml, writes the same bytes several times
faster: libyaml emits, the plain types of canonical data (str, int, dict, list) become nodes
without the general representer's dispatch, and each scalar text's implicit tag is looked up
once per dump.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import Node, ScalarNode
from yaml.representer import SafeRepresenter

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"


def represent_list(dumper: SafeRepresenter, data: list[Any]) -> Node:
    """Flow style for lists of scalars and of lists of scalars, block style otherwise."""
    flow = all(not isinstance(v, dict) for v in data) and all(
        not isinstance(v, list) or all(not isinstance(w, list | dict) for w in v) for v in data
    )
    return dumper.represent_sequence(SEQ, data, flow_style=flow)


class PythonDumper(yaml.SafeDumper):
    """PyYAML's pure-Python safe dumper with the canonical list style."""


PythonDumper.add_representer(list, represent_list)

CDumper: type[Any] | None = None
"""libyaml's dumper giving :class:`PythonDumper`'s bytes; ``None`` when PyYAML has no libyaml."""

if yaml.__with_libyaml__:

    class _CDumper(yaml.CSafeDumper):
        """libyaml's safe dumper with the canonical list style and direct paths for plain data.

        The direct paths make the nodes PyYAML's representers make (aliases of a container met
        twice included); they are taken only with PyYAML's defaults for ``default_style`` and
        path resolvers, and with ``sort_keys`` off.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.direct = (
                self.default_style is None and not self.sort_keys and not self.yaml_path_resolvers
            )
            self.scalar_tags: dict[tuple[str, Any], str] = {}

        def represent_data(self, data: Any) -> Node:
            kind = type(data)
            if not self.direct:
                return super().represent_data(data)
            if kind is str:
                return ScalarNode(STR, data)
            if kind is int:
                return ScalarNode(INT, str(data))
            if kind is dict or kind is list:
                node = self.represented_objects.get(id(data))
                if node is not None:  # met before: the serializer gives it an anchor
                    return node
                self.object_keeper.append(data)
                self.alias_key = id(data)
                if kind is dict:
                    return self.represent_mapping(MAP, data)
                return represent_list(self, data)
            return super().represent_data(data)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is not ScalarNode or not self.direct:
                return super().resolve(kind, value, implicit)
            key = (value, implicit)
            tag = self.scalar_tags.get(key)
            if tag is None:
                tag = self.scalar_tags[key] = super().resolve(kind, value, implicit)
            return tag

    _CDumper.add_representer(list, represent_list)
    CDumper = _CDumper

DUMPER: type[Any] = CDumper or PythonDumper
"""The dumper the canonical YAML is written with."""
