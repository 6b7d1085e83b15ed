"""The modules the emitted PyTorch files define when no stock ``torch.nn`` layer
computes exactly what the IR says, as real code: linted, type-checked and tested here,
copied verbatim into the emitted file by :mod:`normspec.backends.torch.helpers`."""
