"""Weight files are untrusted input. In every format, a crafted file is refused with a
WeightsError (exit status 2, no traceback); the spec hash is checked where the file carries one;
NaN, infinities and other dtypes than the spec's are refused (casts only with --allow-cast);
a misfit lists the missing and unexpected entries with their shapes; text read from a file is
shown with its control characters escaped. Every crafted file is written here, from a valid
file of the format."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import normspec
from normspec.backends.native import write_any
from normspec.cli import main
from normspec.errors import WeightsError
from normspec.weights import load_weights
from test_backends_shared import available

SPEC = """\
normspec: 1
name: untrusted
input: {shape: [6]}
layers:
  - dense: {units: 5, activation: relu, norm: {kind: batch, position: before_activation}}
  - dense: {units: 3}
"""

SUFFIX = {"canonical": ".safetensors", "torch": ".pt", "keras": ".weights.h5", "flax": ".msgpack"}
BIAS = {
    "canonical": "dense_2.bias",
    "torch": "dense_2.bias",
    "keras": "layers/dense_1/vars/1",
    "flax": "dense_2/bias",
}
"""The last layer's bias, shape (3,), by each format's own name."""
EXTRA = {
    "canonical": "extra.kernel",
    "torch": "extra.weight",
    "keras": "layers/extra/vars/0",
    "flax": "extra/kernel",
}
ENTRY = "__normspec__"
DELETE = object()
KEEP: Any = object()


def _usable(fmt: str) -> bool:
    return fmt == "canonical" or available(fmt)


def param(fmt: str, *values: Any, id: str | None = None) -> Any:
    mark = pytest.mark.skipif(not _usable(fmt), reason=f"needs {fmt}")
    return pytest.param(fmt, *values, marks=mark, id=f"{fmt}-{id}" if id else fmt)


ALL = ["canonical", "torch", "keras", "flax"]
NATIVE = ["torch", "keras", "flax"]


def run(*args: object) -> tuple[int, str]:
    """The command line in this process: exit status and stderr; a traceback fails the test."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("untrusted")
    (path / "spec.yaml").write_text(SPEC)
    return path


def made_for(folder: Path, fmt: str, text: str = SPEC, name: str = "valid") -> Path:
    """A valid weights file of ``fmt`` for the spec ``text`` (written once per module)."""
    path = folder / f"{name}{SUFFIX[fmt]}"
    if not path.exists():
        spec = normspec.load(text)
        write_any(path, spec, normspec.init_weights(spec, seed=1))
    return path


def convert(folder: Path, source: Path, *flags: str) -> tuple[int, str, Path]:
    out = folder / "out.safetensors"
    out.unlink(missing_ok=True)
    code, err = run("weights", "convert", folder / "spec.yaml", source, "-o", out, *flags)
    return code, err, out


# --- writing crafted files ---------------------------------------------------------------------


def _edit_tree(tree: dict[str, Any], edits: dict[str, Any]) -> None:
    for name, value in edits.items():
        *parents, leaf = name.split("/")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            del node[leaf]
        else:
            node[leaf] = value


def _craft_canonical(src: Path, dst: Path, edits: dict[str, Any], metadata: Any) -> None:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(src), framework="numpy") as f:
        kept = f.metadata()
        arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    _edit_tree(arrays, edits)
    save_file(arrays, str(dst), metadata=(kept if metadata is KEEP else metadata) or None)


def _craft_torch(src: Path, dst: Path, edits: dict[str, Any], metadata: Any) -> None:
    import torch

    state = torch.load(src, weights_only=True)
    for name, value in edits.items():
        if value is DELETE:
            del state[name]
        else:
            state[name] = torch.from_numpy(value) if isinstance(value, np.ndarray) else value
    if metadata is not KEEP:
        state._metadata.pop(ENTRY, None)
        if metadata:
            state._metadata[ENTRY] = metadata
    torch.save(state, dst)


def _craft_keras(src: Path, dst: Path, edits: dict[str, Any], metadata: Any) -> None:
    import h5py

    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as h5:
        for name, value in edits.items():
            if name in h5:
                del h5[name]
            if value is not DELETE:
                h5[name] = value
        if metadata is not KEEP:
            for key in list(h5.attrs):
                del h5.attrs[key]
            h5.attrs.update(metadata)


def _craft_flax(src: Path, dst: Path, edits: dict[str, Any], metadata: Any) -> None:
    from flax.serialization import msgpack_restore, msgpack_serialize

    tree = msgpack_restore(src.read_bytes())
    _edit_tree(tree, edits)
    if metadata is not KEEP:
        tree.pop(ENTRY, None)
        if metadata:
            tree[ENTRY] = metadata
    dst.write_bytes(msgpack_serialize(tree))


CRAFT = {
    "canonical": _craft_canonical,
    "torch": _craft_torch,
    "keras": _craft_keras,
    "flax": _craft_flax,
}


def crafted(
    folder: Path, fmt: str, edits: dict[str, Any] | None = None, metadata: Any = KEEP
) -> Path:
    """The valid file of ``fmt`` with ``edits`` (name -> new value or DELETE) and, unless KEEP,
    ``metadata`` in place of normspec's."""
    dst = folder / f"crafted{SUFFIX[fmt]}"
    CRAFT[fmt](made_for(folder, fmt), dst, edits or {}, metadata)
    return dst


# --- item: a crafted file is a WeightsError, never a crash -------------------------------------


class _Runs:
    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (print, ("code from a weights file",))


def _bytes(data: bytes) -> Callable[[Path, Path], None]:
    def write(src: Path, dst: Path) -> None:
        dst.write_bytes(data)

    return write


def _truncated(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])


def _edited(fmt: str, edits: dict[Any, Any], metadata: Any = KEEP) -> Callable[[Path, Path], None]:
    return lambda src, dst: CRAFT[fmt](src, dst, edits, metadata)


def _torch_object(obj: object) -> Callable[[Path, Path], None]:
    def write(src: Path, dst: Path) -> None:
        import torch

        torch.save(obj, dst)

    return write


def _torch_bfloat16(src: Path, dst: Path) -> None:
    import torch

    _craft_torch(src, dst, {BIAS["torch"]: torch.zeros(3, dtype=torch.bfloat16)}, KEEP)


def _keras_link(external: bool) -> Callable[[Path, Path], None]:
    def write(src: Path, dst: Path) -> None:
        import h5py

        shutil.copyfile(src, dst)
        other = dst.with_name("other.h5")
        with h5py.File(other, "w") as h5:
            h5["x"] = np.zeros(3, np.float32)
        with h5py.File(dst, "r+") as h5:
            del h5[BIAS["keras"]]
            target = h5py.ExternalLink(str(other), "/x") if external else h5py.SoftLink("/x")
            h5[BIAS["keras"]] = target
            h5["x"] = np.zeros(3, np.float32)

    return write


def _msgpack(obj: object) -> Callable[[Path, Path], None]:
    def write(src: Path, dst: Path) -> None:
        import msgpack

        dst.write_bytes(msgpack.packb(obj))

    return write


def _crafted_rows() -> list[Any]:
    import msgpack

    rows = []
    for fmt in ALL:
        rows += [
            param(fmt, _bytes(b""), id="empty"),
            param(fmt, _bytes(b"\x00\xffnot weights" * 50), id="garbage"),
            param(fmt, _truncated, id="truncated"),
        ]
    bias = BIAS
    rows += [
        param("canonical", _bytes(b"\xff" * 8 + b"{}"), id="header-longer-than-file"),
        param("canonical", _bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00[1, 2]  "), id="header-list"),
        param("torch", _edited("torch", {bias["torch"]: "a string"}), id="string-leaf"),
        param("torch", _edited("torch", {bias["torch"]: [1.0, 2.0, 3.0]}), id="list-leaf"),
        param("torch", _edited("torch", {7: np.zeros(3, np.float32)}), id="int-key"),
        param("torch", _torch_bfloat16, id="bfloat16"),
        param("torch", _torch_object([1, 2, 3]), id="list-not-state-dict"),
        param("torch", _bytes(pickle.dumps(_Runs(), protocol=2)), id="pickled-code"),
        param("torch", _edited("torch", {}, {"normspec_hash": 5}), id="metadata-not-text"),
        param("keras", _edited("keras", {bias["keras"]: "a string"}), id="string-leaf"),
        param("keras", _edited("keras", {bias["keras"]: np.zeros(3, "V4")}), id="void-dtype"),
        param("keras", _edited("keras", {bias["keras"]: np.zeros(3, "i4,f4")}), id="record"),
        param("keras", _keras_link(external=False), id="soft-link"),
        param("keras", _keras_link(external=True), id="external-link"),
        param("flax", _edited("flax", {bias["flax"]: msgpack.ExtType(42, b"zz")}), id="ext-type"),
        param("flax", _edited("flax", {bias["flax"]: "a string"}), id="string-leaf"),
        param("flax", _edited("flax", {bias["flax"]: np.zeros(3, "V4")}), id="void-dtype"),
        param("flax", _edited("flax", {bias["flax"]: [1.0, 2.0, 3.0]}), id="list-leaf"),
        param("flax", _edited("flax", {bias["flax"]: None}), id="nil-leaf"),
        param("flax", _msgpack([1, 2, 3]), id="list-not-state"),
        param("flax", _edited("flax", {}, {"normspec_hash": [1]}), id="metadata-not-text"),
    ]
    return rows


@pytest.mark.parametrize(("fmt", "write"), _crafted_rows())
def test_crafted_file_is_refused_with_exit_2(
    fmt: str, write: Callable[[Path, Path], None], folder: Path
) -> None:
    source = folder / f"bad{SUFFIX[fmt]}"
    write(made_for(folder, fmt), source)
    code, err, out = convert(folder, source)
    assert code == 2, err
    assert err.startswith("error: ") and str(source) in err
    assert not out.exists()
    with pytest.raises(WeightsError):
        normspec.load_weights(source, folder / "spec.yaml")


# --- item: values are finite numbers in the spec's dtype --------------------------------------


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("flags", [(), ("--allow-cast",)], ids=["strict", "allow-cast"])
def test_non_finite_values_are_refused(
    fmt: str, value: float, flags: tuple[str, ...], folder: Path
) -> None:
    bias = np.array([0.5, value, 1.0], np.float32)
    code, err, out = convert(folder, crafted(folder, fmt, {BIAS[fmt]: bias}), *flags)
    assert code == 2 and f"{BIAS[fmt]} has 1 NaN or infinite value" in err
    assert not out.exists()


CASTS = ["float64", "float16", "int32", "bool", "complex64"]


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
@pytest.mark.parametrize("dtype", CASTS)
def test_other_dtypes_are_cast_only_when_allowed(fmt: str, dtype: str, folder: Path) -> None:
    bias = np.array([1, 0, 1]).astype(dtype)
    source = crafted(folder, fmt, {BIAS[fmt]: bias})
    code, err, out = convert(folder, source)
    assert code == 2 and f"{BIAS[fmt]} is stored as {dtype}, not float32" in err
    assert "--allow-cast" in err and not out.exists()
    code, err, out = convert(folder, source, "--allow-cast")
    assert code == 0, err
    loaded = load_weights(out, normspec.load(folder / "spec.yaml"))["dense_2.bias"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, [1.0, 0.0, 1.0])


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
@pytest.mark.parametrize(
    ("bias", "problem"),
    [
        (np.array([1, 2j, 0], np.complex64), "has complex values"),
        (np.array([1, 1e300, 0], np.float64), "has 1 value too large for float32"),
    ],
    ids=["imaginary", "overflow"],
)
def test_casts_that_change_values_are_refused_even_when_allowed(
    fmt: str, bias: np.ndarray, problem: str, folder: Path
) -> None:
    code, err, _ = convert(folder, crafted(folder, fmt, {BIAS[fmt]: bias}), "--allow-cast")
    assert code == 2 and f"{BIAS[fmt]} {problem}" in err


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
def test_python_api_casts_with_a_keyword(fmt: str, folder: Path) -> None:
    source = crafted(folder, fmt, {BIAS[fmt]: np.array([1.5, 2, 3], np.float64)})
    with pytest.raises(WeightsError, match="stored as float64, not float32"):
        normspec.load_weights(source, folder / "spec.yaml")
    weights = normspec.load_weights(source, folder / "spec.yaml", allow_cast=True)
    assert all(w.dtype == np.float32 for w in weights.values())
    np.testing.assert_array_equal(weights["dense_2.bias"], [1.5, 2, 3])


# --- item: the spec hash travels with every format --------------------------------------------


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
def test_weights_of_a_spec_differing_only_in_an_activation_are_refused(
    fmt: str, folder: Path
) -> None:
    other = made_for(folder, fmt, SPEC.replace("relu", "gelu"), name="gelu")
    code, err, out = convert(folder, other)
    assert code == 2 and "was made for spec untrusted" in err and "not for 'untrusted'" in err
    assert not out.exists()


@pytest.mark.parametrize("fmt", [param(f) for f in NATIVE])
def test_a_native_file_without_a_hash_is_checked_for_fit_and_values(fmt: str, folder: Path) -> None:
    """A file written by users' own framework code carries no hash: it loads if it fits."""
    code, err, out = convert(folder, crafted(folder, fmt, metadata={}))
    assert code == 0, err
    spec = normspec.load(folder / "spec.yaml")
    expected = normspec.init_weights(spec, seed=1)
    for key, value in load_weights(out, spec).items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)


@pytest.mark.skipif(not _usable("canonical"), reason="needs safetensors")
def test_a_canonical_file_without_a_hash_is_refused(folder: Path) -> None:
    code, err, _ = convert(folder, crafted(folder, "canonical", metadata={}))
    assert code == 2 and "carries no spec hash" in err


# --- item: a misfit lists what is missing, unexpected and of the wrong shape -------------------


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
def test_misfit_lists_missing_and_unexpected_entries_with_shapes(fmt: str, folder: Path) -> None:
    edits = {BIAS[fmt]: DELETE, EXTRA[fmt]: np.zeros((2, 7), np.float32)}
    code, err, out = convert(folder, crafted(folder, fmt, edits))
    assert code == 2 and "does not fit spec 'untrusted'" in err
    assert f"missing {BIAS[fmt]} (3,)" in err
    assert f"unexpected {EXTRA[fmt]} (2, 7)" in err
    assert not out.exists()


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
def test_misfit_names_each_wrong_shape(fmt: str, folder: Path) -> None:
    code, err, _ = convert(folder, crafted(folder, fmt, {BIAS[fmt]: np.zeros(4, np.float32)}))
    assert code == 2 and f"{BIAS[fmt]}: expected (3,), got (4,)" in err


# --- item: text from a file is shown escaped ---------------------------------------------------

HOSTILE = "evil\x1b[2J\x1b]0;title\x07\u202egnp.exe"


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
def test_metadata_text_is_shown_with_control_characters_escaped(fmt: str, folder: Path) -> None:
    metadata = {"normspec_hash": "sha256:\x1b[31mfake", "spec_name": HOSTILE}
    code, err, _ = convert(folder, crafted(folder, fmt, metadata=metadata))
    assert code == 2 and "was made for spec evil\\x1b[2J\\x1b]0;title\\x07\\u202egnp.exe" in err
    assert "sha256:\\x1b[31mfake" in err
    assert not any(c in err for c in "\x1b\x07\u202e")


@pytest.mark.parametrize("fmt", [param(f) for f in ["canonical", "torch", "flax"]])
def test_entry_names_from_a_file_are_shown_escaped(fmt: str, folder: Path) -> None:
    code, err, _ = convert(folder, crafted(folder, fmt, {HOSTILE: np.zeros(2, np.float32)}))
    assert code == 2 and "unexpected evil\\x1b[2J" in err
    assert not any(c in err for c in "\x1b\x07\u202e")


@pytest.mark.parametrize("fmt", [param(f) for f in ALL])
def test_a_float64_spec_reads_its_own_files_and_refuses_float32(fmt: str, folder: Path) -> None:
    text = SPEC.replace("input: {shape: [6]}", "input: {shape: [6], dtype: float64}")
    spec = normspec.load(text)
    own = made_for(folder, fmt, text, name="float64")
    weights = normspec.load_weights(own, spec)
    expected = normspec.init_weights(spec, seed=1)
    for key, value in weights.items():
        assert value.dtype == np.float64
        np.testing.assert_array_equal(value, expected[key], err_msg=key)
    narrow = folder / f"narrow{SUFFIX[fmt]}"
    CRAFT[fmt](own, narrow, {BIAS[fmt]: np.ones(3, np.float32)}, KEEP)
    with pytest.raises(WeightsError, match="stored as float32, not float64"):
        normspec.load_weights(narrow, spec)
