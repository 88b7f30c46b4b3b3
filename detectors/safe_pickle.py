"""Pickle restricted to the classes a detector is made of.

Snapshots are HMAC-verified before they are unpickled (detectors/snapshot.py); this allow-list is
the second wall: even a snapshot signed with a leaked key can only rebuild river detectors, our
adapters and plain containers, never call os.system or the like.
"""

import builtins
import io
import pickle
from typing import Any

_ALLOWED_MODULE_PREFIXES = ("river.drift.", "river.stats.", "river._river_rust.", "detectors.")
_ALLOWED_GLOBALS = {
    ("collections", "deque"),
    ("random", "Random"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "tuple"),
    ("builtins", "float"),
    ("builtins", "int"),
    ("builtins", "bytes"),
    ("builtins", "bytearray"),
}


class UnsafeSnapshotError(pickle.UnpicklingError):
    """The snapshot names a class or function a detector is never made of."""


def _public_getattr(obj: object, name: str) -> Any:
    """getattr for bound methods river pickles (PageHinkley._test_drift); dunder access would escape."""
    if name.startswith("__"):
        raise UnsafeSnapshotError(f"snapshot asks for attribute {name!r}")
    return getattr(obj, name)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _public_getattr
        if (module, name) in _ALLOWED_GLOBALS or (
            module.startswith(_ALLOWED_MODULE_PREFIXES) and not name.startswith("_")
            and "." not in name
        ):
            if module == "builtins":
                return getattr(builtins, name)
            return super().find_class(module, name)
        raise UnsafeSnapshotError(f"snapshot refers to {module}.{name}, which no detector uses")


def dumps(obj: object) -> bytes:
    return pickle.dumps(obj, protocol=5)


def loads(data: bytes) -> Any:
    return _RestrictedUnpickler(io.BytesIO(data)).load()
