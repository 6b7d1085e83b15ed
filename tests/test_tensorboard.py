"""TensorBoard event files written without TensorFlow: records and protocol buffers checked
byte by byte, and read back by TensorFlow's own reader where it is installed."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from test_commands import CNN, run

from normspec.run.tensorboard import EventWriter, crc32c, histogram_value, record, scalar_value
from test_backends_shared import available


def read_records(path: Path) -> list[bytes]:
    """The data of every record, each CRC checked (the TFRecord format)."""
    data, out, at = path.read_bytes(), [], 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        payload = data[at + 12 : at + 12 + length]
        assert record(payload) == data[at : at + 16 + length]
        out.append(payload)
        at += 16 + length
    return out


def test_crc32c_and_the_record_layout() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    framed = record(b"abc")
    assert struct.unpack("<Q", framed[:8]) == (3,) and framed[12:15] == b"abc"
    assert len(framed) == 8 + 4 + 3 + 4


def test_a_scalar_value_is_the_protocol_buffer_tensorboard_reads() -> None:
    # Summary.Value {tag: "loss" (field 1), simple_value: 0.5 (field 2, 32-bit)}
    inner = b"\x0a\x04loss" + b"\x15" + struct.pack("<f", 0.5)
    assert scalar_value("loss", 0.5) == b"\x0a" + bytes([len(inner)]) + inner


def tf_events(path: Path) -> list:  # type: ignore[type-arg]
    tf = pytest.importorskip("tensorflow")
    return list(tf.compat.v1.train.summary_iterator(str(path)))


@pytest.mark.skipif(not available("keras"), reason="needs TensorFlow to read the files back")
def test_tensorflow_reads_back_scalars_and_histograms(tmp_path: Path) -> None:
    writer = EventWriter(tmp_path)
    writer.write(7, [scalar_value("a/loss", 0.25), histogram_value("a/out", np.arange(10.0))])
    writer.close()
    assert len(read_records(writer.path)) == 2
    first, event = tf_events(writer.path)
    assert first.file_version == "brain.Event:2"
    assert event.step == 7
    loss, histo = event.summary.value
    assert (loss.tag, loss.simple_value) == ("a/loss", 0.25)
    assert (histo.tag, histo.histo.num, histo.histo.sum, histo.histo.max) == ("a/out", 10, 45, 9)
    assert sum(histo.histo.bucket) == 10


@pytest.mark.skipif(
    not (available("torch") and available("keras")), reason="needs torch, and TensorFlow to read"
)
def test_train_writes_epoch_metrics_and_diagnostics_for_tensorboard(tmp_path: Path) -> None:
    spec = tmp_path / "cmd_cnn.yaml"
    spec.write_text(CNN)
    code, _, err = run("train", str(spec), "--data", "digits", "--epochs", "2",
                       "--out", str(tmp_path / "run"), "--diagnostics", "epoch",
                       "--tensorboard", str(tmp_path / "tb"))  # fmt: skip
    assert code == 0, err
    (events,) = (tmp_path / "tb" / "cmd_cnn-torch").glob("events.out.tfevents.*")
    values = [(e.step, v.tag) for e in tf_events(events) for v in e.summary.value]
    assert (1, "epoch/val_accuracy") in values and (2, "epoch/loss") in values
    assert any(tag == "conv2d_1_bn/variance_shift" for _, tag in values)
    assert any(tag == "dense_1/grad_norm" for _, tag in values)
    assert any(tag.endswith("/output") for _, tag in values)  # histograms


@pytest.mark.slow
@pytest.mark.skipif(
    not (available("torch") and available("keras")), reason="needs torch, and TensorFlow to read"
)
def test_ablate_writes_every_runs_diagnostics_for_tensorboard(tmp_path: Path) -> None:
    """Per variant and seed, in the layout train uses: the epoch metrics, every statistic at
    every diagnostic step, and the output histograms at the first and the last step."""
    spec = tmp_path / "cmd_cnn.yaml"
    spec.write_text(CNN)
    tb = tmp_path / "tb"
    code, _, err = run("ablate", str(spec), "--data", "digits", "--epochs", "2", "--seeds", "2",
                       "--batch-size", "64", "--vary", "norm.position=before_activation,none",
                       "--diagnostics", "epoch", "--out", str(tmp_path / "abl"),
                       "--tensorboard", str(tb))  # fmt: skip
    assert code == 0, err
    assert f"TensorBoard events (epoch metrics and diagnostics) written to {tb}/" in err
    folders = [f"norm.position={p}-seed{s}" for p in ("before_activation", "none") for s in (0, 1)]
    assert sorted(p.name for p in tb.iterdir()) == folders
    for folder in folders:
        (events,) = (tb / folder).glob("events.out.tfevents.*")
        values = {(e.step, v.tag, v.HasField("histo")) for e in tf_events(events)
                  for v in e.summary.value}  # fmt: skip
        assert {(1, "epoch/loss", False), (2, "epoch/val_accuracy", False)} <= values
        steps = sorted({step for step, tag, _ in values if tag == "conv2d_1/std"})
        assert steps == [0, 23, 46]  # step 0 and after each epoch (1438 samples, batch 64)
        for step in (0, 46):
            assert (step, "dense_1/grad_norm", False) in values
            assert (step, "conv2d_2_gelu/output", True) in values
        assert (46, "dense_1/update_ratio", False) in values
        with_bn = (0, "conv2d_1_bn/variance_shift", False) in values
        assert with_bn == ("before_activation" in folder)
