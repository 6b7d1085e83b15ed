"""The base of the emitted Flax module's block classes (each residual of the spec is a class of
its own): a module that keeps what it sows only inside ``nnx.capture``, as the model does.

Copied verbatim into the generated file by :mod:`normspec.backends.flax.helpers`.
"""

from flax import nnx


class Block(nnx.Module):
    """A block of the network. Calling it stores no intermediates in it: ``sow`` records
    its layers' outputs only inside ``nnx.capture``, so its state stays its weights and
    statistics."""

    def sow(self, variable_type, name: str, value, *args, **kwargs) -> bool:
        if not hasattr(self, "__captures__"):
            return False
        return super().sow(variable_type, name, value, *args, **kwargs)
