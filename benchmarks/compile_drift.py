"""How far ``torch.compile`` moves a model's float32 outputs from eager mode: the generated
ResNet-18 against the hand-written one (benchmarks/handwritten), each in eval mode with its own
initial weights, on the same standard-normal batch.

The compiled graph fuses ops and orders floating-point reductions differently, so outputs move
by a few units in the last place. Absolute differences scale with the outputs: the spec's
He-normal initializers give outputs near 50, PyTorch's default initializers (the hand-written
model) near 0.05, so the figure to compare is the difference relative to the largest output.
The third line gives the generated model the hand-written one's weights (matched in order, the
input statistics set to 0 and 1): it is then the same model, eager and compiled, to the bit.

Run: ``python benchmarks/compile_drift.py [--batch 8]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from handwritten.torch_models import ResNet18  # noqa: E402

import normspec  # noqa: E402


def drift(model: torch.nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """``(max |compiled - eager|, max |eager|)``."""
    with torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model)(x)
    return float((eager - compiled).abs().max()), float(eager.abs().max())


def copy_weights(hand: torch.nn.Module, generated: torch.nn.Module) -> None:
    """The hand-written model's parameters and buffers into the generated one, in order (both
    define the same layers in the same order); the generated input standardization becomes the
    identity, as the hand-written model's mean 0 and std 1."""
    ours = [k for k in generated.state_dict() if not k.startswith("input_norm.")]
    theirs = [v for k, v in hand.state_dict().items() if k not in ("mean", "std")]
    generated.load_state_dict(dict(zip(ours, theirs, strict=True)), strict=False)
    generated.input_norm.adapt(torch.zeros(1, 3, 1, 1))  # mean 0; std floored, then set to 1
    with torch.no_grad():
        generated.input_norm.std.fill_(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32)
    generated = normspec.build(ROOT_SPEC, "torch").eval()
    generated.input_norm.adapt(x)  # the input statistics, as training would fit them
    hand = ResNet18().eval()
    same = normspec.build(ROOT_SPEC, "torch").eval()
    copy_weights(hand, same)
    with torch.no_grad():
        assert torch.equal(same(x), hand(x)), "not the same model"
    models = (("generated", generated), ("hand-written", hand), ("generated, same weights", same))
    for name, model in models:
        diff, scale = drift(model, x)
        print(f"{name:24}  max |diff| {diff:.3g}  max |output| {scale:.3g}  "
              f"relative {diff / scale:.3g}")  # fmt: skip


ROOT_SPEC = HERE.parent / "specs" / "resnet18.yaml"

if __name__ == "__main__":
    main()
