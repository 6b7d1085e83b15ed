"""The YAML loader on hostile input: every bad file gives a located one-line problem, fast,
never a traceback, a hang or a full memory."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

import normspec
from normspec.errors import SpecError
from normspec.ir.serialize import to_yaml
from normspec.loader import MAX_DEPTH, MAX_NODES, MAX_SOURCE_BYTES, load_yaml, source

HEAD = "normspec: 1\ninput: {shape: [4]}\n"


def problems_of(spec: str | Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        normspec.load(spec)
    return [str(p) for p in info.value.problems]


def only_problem(spec: str | Path) -> str:
    found = problems_of(spec)
    assert len(found) == 1, found
    assert "\n" not in found[0] and len(found[0]) < 800, found[0][:800]
    return found[0]


# 1. depth is checked while the events stream in, before any recursion -------------------------


def test_deep_nesting_is_refused_at_the_node_past_the_limit() -> None:
    # libyaml gives up on this line at its own depth limit: the node is still found.
    flow = only_problem(HEAD + "layers: [flatten]\nx: " + "[" * 1000 + "]" * 1000 + "\n")
    assert flow.startswith("<string>:4:68: x[0][0]")
    assert flow.count("[0]") == MAX_DEPTH
    assert flow.endswith(f": nesting deeper than {MAX_DEPTH}")
    # 200 nested residual blocks (4.4 KB): the 22nd block's item mapping is at depth 65.
    chunk = "{residual: {body: ["
    deep = HEAD + "layers:\n  - " + chunk * 200 + "flatten" + "]}}" * 200 + "\n"
    found = only_problem(deep)
    assert found.startswith(f"<string>:4:{5 + 21 * len(chunk)}: layers[0].residual.body[0]")
    assert found.endswith(f": nesting deeper than {MAX_DEPTH}")
    block = HEAD + "layers: [flatten]\nx:\n" + "".join(" " * i + "- \n" for i in range(1500))
    assert only_problem(block).startswith("<string>:69:65: x[0]")


def test_deep_nesting_in_a_big_file_is_still_refused() -> None:
    pad = 'pad: "' + "p" * 600_000 + '"\n'
    found = only_problem(HEAD + "layers: [flatten]\n" + pad + "x: " + "[" * 1000 + "]" * 1000)
    assert re.match(r"<string>:5:\d+: <root>: nesting deeper than 64$", found), found


# 2. numbers too long for int() ---------------------------------------------------------------


def test_huge_number_is_a_located_problem() -> None:
    found = only_problem(HEAD + "layers:\n  - flatten\n  - dense: " + "9" * 5000 + "\n")
    assert found.startswith("<string>:5:12: layers[1].dense: number too large: 5,000 characters")
    for literal in ["0x" + "f" * 5000, "1." + "5" * 300, "-" + "1_" * 100 + "1"]:
        data = load_yaml(f"a: {literal}\nb: 2\n")
        assert data.data == {"a": None, "b": 2}
        assert [str(p) for p in data.problems] == [
            f"<string>:1:4: a: number too large: {len(literal):,} characters "
            "(numbers are limited to 100)"
        ]


def test_explicit_number_tags_that_do_not_parse_are_problems() -> None:
    doc = load_yaml("a: !!int abc\nb: !!float ''\nc: !!bool maybe\nd: !!int '0x1F'\n")
    assert doc.data == {"a": None, "b": None, "c": None, "d": 31}
    assert [str(p) for p in doc.problems] == [
        "<string>:1:4: a: 'abc' is not a valid integer",
        "<string>:2:4: b: '' is not a valid number",
        "<string>:3:4: c: 'maybe' is not a valid boolean",
    ]


# 3. only regular files are read, and never more than the limit --------------------------------


def test_devices_and_fifos_are_refused(tmp_path: Path) -> None:
    assert only_problem(Path("/dev/zero")) == (
        "/dev/zero:1:1: <root>: not a regular file (a character device); "
        "a spec must be a regular file"
    )
    link = tmp_path / "random.yaml"
    link.symlink_to("/dev/urandom")
    assert f"{link}:1:1: <root>: not a regular file (a character device)" in only_problem(link)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    assert f"{fifo}:1:1: <root>: not a regular file (a FIFO)" in only_problem(str(fifo))
    assert "not a regular file (a directory)" in only_problem(tmp_path)


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text(HEAD + "layers: [flatten]\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    assert normspec.load(link).name == "model"


def test_a_file_that_grows_after_the_size_check_is_read_only_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_SOURCE_BYTES + 1000) + b"\n")
    real_stat = os.stat

    def small_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        info = real_stat(path)  # type: ignore[arg-type]
        return os.stat_result((info.st_mode, *info[1:6], 10, *info[7:]))

    monkeypatch.setattr(source.os, "stat", small_stat)
    found = only_problem(big)
    assert found == f"{big}:1:1: <root>: file is larger than 2,900,000 bytes, the limit for specs"


def test_bad_utf8_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(HEAD.encode() + "layers: [flätten, ".encode() + b"\xff]\n")
    assert only_problem(bad) == f"{bad}:3:19: <root>: file is not UTF-8 text (byte 0xFF)"
    bad.write_bytes(b"normspec: 1\nname: caf\xe9\n")
    assert only_problem(bad) == f"{bad}:2:10: <root>: file is not UTF-8 text (byte 0xE9)"


# 4. aliases are bounded by the text they expand to, and messages never quote huge values -------


def test_alias_bomb_of_long_strings_is_refused_quickly() -> None:
    bomb = "normspec: 1\nbig: &s " + "x" * 1_000_000 + "\n"
    bomb += "input: {shape: [" + ", ".join(["*s"] * 20_000) + "]}\nlayers: [flatten]\n"
    start = time.perf_counter()
    found = only_problem(bomb)
    assert time.perf_counter() - start < 5
    assert found == (
        "<string>:3:21: input.shape[1]: the document expands to more than 2,900,000 "
        "characters of text (aliases repeated too often?); refusing to load it"
    )


def test_messages_cut_long_user_values() -> None:
    key = "k" * 100_000
    long_tag, long_bool = "t" * 100_000, "y" * 100_000  # a simple key is at most 1024 characters
    doc = load_yaml(f"? {key}\n: 1\n? {key}\n: 2\nt: !<tag:{long_tag}> x\nb: !!bool {long_bool}\n")
    messages = [str(p) for p in doc.problems]
    assert len(messages) == 3
    assert all(len(m) < 250 for m in messages), [m[:300] for m in messages]
    assert "duplicate key 'kkkk" in messages[0] and "(100,000 characters)" in messages[0]
    assert "tag 'tag:tttt" in messages[1]
    assert "'yyyy" in messages[2] and "is not a valid boolean" in messages[2]
    undefined = only_problem(HEAD + "layers: [*" + "a" * 100_000 + "]\n")
    assert "found undefined alias *'aaaa" in undefined


# 5. characters YAML does not allow ------------------------------------------------------------


def test_control_character_is_located() -> None:
    assert only_problem(HEAD + "layers:\n  - fla\0tten\n") == (
        "<string>:4:8: <root>: control character U+0000 is not allowed"
    )
    crlf = "normspec: 1\r\ninput: {shape: [4]}\r\nlayers: [flatten]\r\nname: a\x1bb\r\n"
    assert only_problem(crlf) == "<string>:4:8: <root>: control character U+001B is not allowed"
    assert only_problem("a: '\ud800'\n") == "<string>:1:5: <root>: character U+D800 is not allowed"


def test_control_character_in_a_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_bytes(HEAD.encode() + b"layers: [flatten]\nname: x\x07\n")
    assert only_problem(path) == f"{path}:4:8: <root>: control character U+0007 is not allowed"


# 6. YAML 1.1 quirks: dates are explained, sexagesimal numbers stay text -------------------------


def test_unquoted_date_says_to_quote_it() -> None:
    found = only_problem("normspec: 1\nname: 2024-01-01\ninput: {shape: [4]}\nlayers: [flatten]\n")
    assert found == (
        "<string>:2:7: name: 2024-01-01 reads as a date in YAML; "
        "quote it ('2024-01-01') to use it as text"
    )
    assert load_yaml("name: '2024-01-01'\n").data == {"name": "2024-01-01"}


def test_sexagesimal_numbers_stay_text() -> None:
    found = only_problem(HEAD + "layers:\n  - flatten\n  - dense: 1:30\n")
    assert found.startswith("<string>:5:12: layers[1].dense.units: should be a valid integer")
    doc = load_yaml("a: 1:30\nb: 190:20:30.15\nc: 1_000\nd: 1e-400\ne: 1.0e-400\nf: 0x1F\ng: 017\n")
    assert doc.data == {
        "a": "1:30",
        "b": "190:20:30.15",
        "c": 1000,
        "d": "1e-400",
        "e": 0.0,
        "f": 31,
        "g": 15,
    }
    assert doc.problems == []


# 7. the node limit is hit fast and its message only blames aliases when there are some ---------


def test_too_many_nodes_without_aliases_is_refused_fast_and_says_so() -> None:
    text = HEAD + "layers: [flatten]\nx: [" + "1," * (MAX_NODES + 10) + "1]\n"
    assert len(text) < MAX_SOURCE_BYTES
    start = time.perf_counter()
    found = only_problem(text)
    assert time.perf_counter() - start < 5
    # 8 nodes come before x's items: the root, 1, input, its shape, 4, layers, flatten, x.
    column = len("x: [") + 2 * (MAX_NODES - 8) + 1
    assert found == (
        f"<string>:4:{column}: x[{MAX_NODES - 8}]: "
        "the spec has more than 200,000 nodes; refusing to load it"
    )
    aliased = HEAD + "layers: [flatten]\na: &a [" + "1," * 999 + "1]\nb: [" + "*a," * 300 + "]\n"
    assert "expands to more than 200,000 nodes (aliases repeated too often?)" in only_problem(
        aliased
    )


# 8. canonical output of a valid spec reads back --------------------------------------------------


def test_canonical_output_of_a_large_valid_spec_loads() -> None:
    # The canonical form of 8,000 x `- dense: 4` (2,079,300 bytes), built from the canonical
    # text of a two-layer spec rather than by canonicalizing 8,000 layers.
    two = to_yaml(normspec.load(HEAD + "layers:\n  - dense: 4\n  - dense: 4\n"))
    head, first, second = re.split(r"(?m)^(?=- dense:)", two)
    second, tail = re.split(r"(?m)^(?=[a-z])", second, maxsplit=1)
    assert "name: dense_2" in second and tail.startswith("train:")
    body = "".join(second.replace("dense_2", f"dense_{i}") for i in range(2, 8001))
    text = head + first + body + tail
    assert len(text.encode()) > 2_000_000
    start = time.perf_counter()
    doc = load_yaml(text)
    assert time.perf_counter() - start < 5
    assert doc.problems == []
    assert len(doc.data["nodes"]) == 8000
    assert doc.data["nodes"][-1]["dense"]["name"] == "dense_8000"


# the event-driven builder keeps what compose did -------------------------------------------------


def test_aliases_expand_with_the_anchor_locations() -> None:
    doc = load_yaml("a: &x [1, {b: 2}]\nc: *x\n&k key: 3\n*k : 4\n")
    assert doc.data == {"a": [1, {"b": 2}], "c": [1, {"b": 2}], "key": 3}
    assert doc.positions[("c", 1, "b")] == doc.positions[("a", 1, "b")]
    assert doc.positions[("c", 1, "b")].line == 1
    assert [str(p) for p in doc.problems] == ["<string>:4:1: key: duplicate key 'key'"]


def test_recursive_alias_and_odd_keys_are_problems_not_crashes() -> None:
    doc = load_yaml("a: &r [*r]\n? [k]\n: v\n<<: {m: 1}\nx: =\nz: 1\n")
    assert doc.data == {"a": [None], "x": None, "z": 1}
    assert [str(p) for p in doc.problems] == [
        "<string>:1:8: a[0]: alias *r refers to a node that contains it",
        "<string>:2:3: <root>: keys must be plain text",
        "<string>:4:1: <root>: merge keys ('<<') are not supported",
        "<string>:5:4: x: '=' has a special meaning in YAML (value); quote it to use it as text",
    ]


def test_second_document_and_undefined_alias_are_located() -> None:
    assert only_problem(HEAD + "---\nlayers: []\n") == (
        "<string>:3:1: <root>: a spec is one YAML document; found a second one ('---')"
    )
    assert only_problem(HEAD + "layers: [*nope]\n") == (
        "<string>:3:10: layers[0]: YAML syntax error: found undefined alias *nope"
    )


# 6. syntax errors in normspec's words, with the fix ------------------------------------------

LAYERS = "normspec: 1\ninput: {shape: [8, 8, 3]}\nlayers:\n"

# (case, spec text, expected "<line>:<col>: <root>: YAML syntax error: <explanation>")
SYNTAX_CASES = [
    ("options on one line", LAYERS + "  - dense: 64, activation: relu\n",
     "4:26: <root>: YAML syntax error: ',' and ': ' in the value of 'dense': to give dense several "
     "options write them in braces, dense: {units: 64, activation: relu}, or one per line "
     "indented under 'dense:'"),
    ("conv options on one line", LAYERS + "  - conv2d: 32, kernel: 5, padding: same\n",
     "write them in braces, conv2d: {filters: 32, kernel: 5, padding: same}, or one per line"),
    ("two keys on one line", "normspec: 1\ndefaults: activation: relu\n",
     "2:21: <root>: YAML syntax error: a second 'key:' on the line of 'defaults:': write "
     "defaults: {activation: relu}, or put activation: relu on its own line"),
    ("item indented too far", LAYERS + "  - flatten\n   - dense: 3\n",
     "5:11: <root>: YAML syntax error: this line is indented more than line 4, so YAML reads it "
     "as the rest of that line's value: indent it like line 4"),
    ("key indented too far", "normspec: 1\ntrain:\n  epochs: 3\n   batch_size: 4\n",
     "4:14: <root>: YAML syntax error: this line is indented more than line 3"),
    ("key indented between levels", "normspec: 1\ninput:\n  shape: [4]\n dtype: float32\n",
     "4:2: <root>: YAML syntax error: bad indentation: this line is indented 1 space, which lines "
     "up with no enclosing level (those above it are at 0, 2)"),
    ("item indented between levels", LAYERS + "  - flatten\n - dense: 3\n",
     "5:2: <root>: YAML syntax error: bad indentation: this line is indented 1 space"),
    ("key among list items", LAYERS + "  - flatten\n  dense: 3\n",
     "5:3: <root>: YAML syntax error: expected a list item: at this indentation each line of the "
     "list starts with '- '"),
    ("tab", LAYERS + "\t- flatten\n",
     "4:1: <root>: YAML syntax error: a tab: YAML indents with spaces only"),
    ("unclosed brace", LAYERS + "  - dense: {units: 64, activation: relu\n",
     "5:1: <root>: YAML syntax error: expected ',' or '}': the '{' opened at line 4, column 12 is "
     "not closed before this point"),
    ("unclosed bracket", "normspec: 1\nlayers: [flatten\ninput: {shape: [4]}\n",
     "the '[' opened at line 2, column 9 is not closed before this point"),
    ("text after braces", LAYERS + "  - conv2d: {filters: 3}, kernel: 3\n",
     "4:25: <root>: YAML syntax error: text after a closed '{...}' or '[...]': put every option "
     "inside the brackets"),
]  # fmt: skip


@pytest.mark.parametrize("padding", ["", "#" + "p" * 600_000 + "\n"], ids=["small", "large"])
@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in SYNTAX_CASES], ids=[c[0] for c in SYNTAX_CASES]
)
def test_syntax_errors_are_explained_with_their_fix(text: str, expected: str, padding: str):
    """The same words from libyaml (files too large to parse twice) and from PyYAML."""
    found = only_problem(padding + text)
    if padding and expected[0].isdigit():  # one line further down
        line, rest = expected.split(":", 1)
        expected = f"{int(line) + 1}:{rest}"
    if padding:
        expected = re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + 1}", expected)
    fragment = f"<string>:{expected}" if expected[0].isdigit() else expected
    assert fragment in found, found
