"""Reading the uses of blocks of the canonical form (:mod:`normspec.ir.definitions`): each
``block`` node is written out as the nodes of its definition, named after the use
(``se1_gate``), reading what the use reads and scoped in it, each problem located where it is
written in the definition. The file's nodes written out this way are at most ``max_ops``, so a
definition used many times over cannot make a small file a huge graph."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from normspec.errors import Path, shown
from normspec.ir.definitions import BLOCK
from normspec.ir.graph import BlockArguments
from normspec.ir.nodes import INPUT
from normspec.spec.suggestions import suggest

if TYPE_CHECKING:
    from normspec.spec.graph_form import NodeReader


@dataclass(frozen=True)
class Level:
    """Where nodes are read: the top level, or inside the use whose nodes are named
    ``prefix...``, scoped ``scope`` and read ``source`` for ``input``."""

    prefix: str = ""
    scope: tuple[str, ...] = ()
    source: str = INPUT

    def name(self, local: str) -> str:
        return self.source if local == INPUT else self.prefix + local

    def item(self, item: Any, value_of: dict[str, str]) -> Any:
        """A node as the graph holds it: a node of a definition named after the use, and
        values of uses (read by the use's name) read from the use's last node. Left alone
        where it is not a node of strings, for the node reader to refuse."""
        if not (isinstance(item, dict) and len(item) == 1):
            return item
        key, body = next(iter(item.items()))
        if not isinstance(body, dict):
            return item
        body = dict(body)
        if isinstance(body.get("name"), str):
            body["name"] = self.prefix + body["name"]
        if _strings(body.get("inputs")):
            body["inputs"] = [self.value(name, value_of) for name in body["inputs"]]
        scope = body.get("scope", [])
        if self.prefix and (_strings(scope) or scope == []):
            local = [self.prefix + part if i % 2 == 0 else part for i, part in enumerate(scope)]
            body["scope"] = [*self.scope, *local]
        return {key: body}

    def value(self, local: str, value_of: dict[str, str]) -> str:
        """The value ``local`` names here: ``input`` is what the use reads, a use's name its
        last node's value."""
        name = self.name(local)
        return value_of.get(name, name)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


class UseReader:
    """Reads node items, each ``block`` node as its definition's nodes (see the module
    docstring); ``entry`` validates what a use records (its arguments) at a path."""

    def __init__(
        self,
        reader: NodeReader,
        definitions: dict[str, Any],
        entry: Callable[[dict[str, Any], Path], BlockArguments | None],
        max_ops: int,
    ) -> None:
        self.reader = reader
        self.definitions = definitions
        self.entry = entry
        self.max_ops = max_ops
        self.uses: list[BlockArguments] = []
        self.used: set[str] = set()
        self.open: list[str] = []
        self.value_of: dict[str, str] = {}
        """Each use read so far -> its last node, whose value the use's name reads."""
        self.checked: dict[str, tuple[BlockArguments, list[Any]] | None] = {}
        self.read_items = 0

    def read(self, item: Any, at: Path, level: Level = Level()) -> None:
        if self.read_items > self.max_ops:
            return
        if isinstance(item, dict) and len(item) == 1 and BLOCK in item:
            self.use(item[BLOCK], (*at, BLOCK), level)
            return
        self.read_items += 1  # nodes, not uses: a file normspec writes is never refused
        if self.read_items > self.max_ops:
            self.reader.fail(
                ("nodes",),
                f"more than {self.max_ops:,} nodes once the uses of blocks are written out",
            )
        else:
            self.reader.read(level.item(item, self.value_of), at)

    def use(self, body: Any, where: Path, level: Level) -> None:
        fields = "{name, inputs: [the value it reads], definition, shape, params}"
        if not (isinstance(body, dict) and isinstance(body.get("name"), str)):
            self.reader.fail(where, f"a block node is {fields}, got {shown(body)}")
            return
        found = self._found(body, where, level)
        if found is None:
            self.reader.broken.add(level.prefix + body["name"])  # what reads it is not told
        else:
            self._expand(body, where, level, *found)

    def _found(
        self, body: dict[str, Any], where: Path, level: Level
    ) -> tuple[str, str, tuple[BlockArguments, list[Any]]] | None:
        """The definition a block node names, the value it reads, and what the definition
        holds; None when any of them is refused (and told)."""
        definition = body.get("definition")
        if not isinstance(definition, str) or definition not in self.definitions:
            hint = suggest(definition, self.definitions) if isinstance(definition, str) else ""
            known = ", ".join(self.definitions) or "none"
            message = f"no definition {shown(definition)} under blocks{hint} (they are: {known})"
            self.reader.fail((*where, "definition"), message)
            return None
        self.used.add(definition)
        if definition in self.open:
            chain = " > ".join([*self.open[self.open.index(definition) :], definition])
            self.reader.fail((*where, "definition"), f"a definition uses itself ({chain})")
            return None
        inputs = body.get("inputs")
        if not (isinstance(inputs, list) and _strings(inputs) and len(inputs) == 1):
            message = f"inputs: the one value the use reads, got {shown(inputs)}"
            self.reader.fail((*where, "inputs"), message)
            return None
        source = self.reader.inputs([level.value(inputs[0], self.value_of)], where)
        checked = self._definition(definition)
        if source is None or checked is None:
            return None
        return definition, source[0], checked

    def _definition(self, definition: str) -> tuple[BlockArguments, list[Any]] | None:
        """What a use of ``definition`` records (its block and arguments) and its nodes, once
        they are sound (told once)."""
        if definition in self.checked:
            return self.checked[definition]
        data, at = self.definitions[definition], ("blocks", definition)
        nodes = data.get("nodes") if isinstance(data, dict) else None
        result = None
        if not (isinstance(data, dict) and isinstance(nodes, list) and nodes):
            message = f"a definition is {{block, args, nodes: [...]}}, got {shown(data)}"
            self.reader.fail(at, message)
        elif unknown := sorted(set(data) - {BLOCK, "args", "nodes"}):
            self.reader.fail((*at, unknown[0]), f"unknown key '{unknown[0]}'")
        else:
            fields = {"use": "use", "block": data.get(BLOCK), "args": data.get("args", {})}
            entry = self.entry(fields, at)
            result = None if entry is None else (entry, nodes)
        self.checked[definition] = result
        return result

    def _expand(
        self,
        body: dict[str, Any],
        where: Path,
        level: Level,
        definition: str,
        source: str,
        checked: tuple[BlockArguments, list[Any]],
    ) -> None:
        entry, nodes = checked
        use = level.prefix + body["name"]
        self.uses.append(entry.model_copy(update={"use": use}))
        self.open.append(definition)
        inner = Level(f"{use}_", (*level.scope, use, entry.block), source)
        start, told = len(self.reader.nodes), len(self.reader.problems)
        for j, item in enumerate(nodes):
            self.read(item, ("blocks", definition, "nodes", j), inner)
        self.open.pop()
        added = self.reader.nodes[start:]
        if len(self.reader.problems) > told or not added:
            self.reader.broken.add(use)  # what reads it is not told again
            return
        self.value_of[use] = added[-1].name
        shape, params = list(added[-1].shape), sum(node.op.params for node in added)
        if body.get("shape", shape) != shape:
            message = f"declared {shown(body['shape'])} but its definition gives {shape}"
            self.reader.fail((*where, "shape"), message)
        if body.get("params", params) != params:
            message = f"declared {shown(body['params'])} params but its definition has {params}"
            self.reader.fail((*where, "params"), message)

    def check_used(self) -> None:
        """Every definition is used by a block node (told when nothing else is wrong: a use
        refused leaves those it would use unused)."""
        if self.reader.problems:
            return
        for definition in self.definitions:
            if definition not in self.used:
                message = f"the definition '{definition}' is used by no block node"
                self.reader.fail(("blocks", definition), message)
