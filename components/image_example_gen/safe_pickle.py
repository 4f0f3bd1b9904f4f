"""Unpickling data files without running their code.

`pickle.loads` calls whatever callable a file names, with arguments the file chooses: a
CIFAR batch from a shared folder could run `os.system`. `loads` here resolves only the globals
that pickled numpy arrays name — numpy's array reconstruction, `numpy.ndarray`,
`numpy.dtype`, and `_codecs.encode` (how Python 3 pickles bytes at protocol 2) — and even
those to stand-ins of this module, not numpy's own functions: the array's shape, dtype and
bytes are checked and it is built by `np.frombuffer`, so no numpy code runs on a state the
file crafted (an object dtype could otherwise turn raw bytes into pointers). Only plain
numeric dtypes load. Every other global is refused with `UnsafePickleError`, before
anything is called.

Arrays are resolved where the CIFAR files keep them, as the values of the top-level dict
(or the top-level object itself); a stand-in found deeper stays a stand-in, which the
caller's type checks reject.
"""

import io
import math
import pickle
from typing import Any

import numpy as np

# The plain numeric dtypes an array may have ('u1' is CIFAR's uint8 pixels).
_NUMERIC_TYPES = frozenset({"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"})
_BYTE_ORDERS = frozenset({"<", ">", "=", "|"})
# Where numpy 1.x and 2.x put the functions their array pickles call.
_NUMPY_CORE_MODULES = ("numpy.core", "numpy._core")


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global this module does not allow, or gives an array a state that
    no numpy array has."""


class _DtypeStandIn:
    """`numpy.dtype(type_code, align, copy)` as a pickle calls it; `__setstate__` takes the
    byte order."""

    def __init__(self, type_code: Any, align: Any = False, copy: Any = False):
        del align, copy
        if not isinstance(type_code, str) or type_code not in _NUMERIC_TYPES:
            raise UnsafePickleError(
                f"dtype {type_code!r} is not one of {', '.join(sorted(_NUMERIC_TYPES))}"
            )
        self.type_code = type_code
        self.byte_order = "|"

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in _BYTE_ORDERS:
            raise UnsafePickleError(f"dtype state {state!r:.80} is not a plain dtype's")
        self.byte_order = state[1]

    def resolve(self) -> np.dtype:
        byte_order = "" if self.byte_order == "|" else self.byte_order
        return np.dtype(byte_order + self.type_code)


class _NdarrayStandIn:
    """`numpy.ndarray` as the class argument of the array reconstruction."""


class _ArrayStandIn:
    """An array being unpickled: created empty, then given its state by `__setstate__`
    (numpy's `(version, shape, dtype, is_fortran, data)`), or built at once from a
    protocol-5 buffer."""

    array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # the version (1)
        if not isinstance(state, tuple) or len(state) != 4:
            raise UnsafePickleError(f"array state {state!r:.80} is not numpy's")
        shape, dtype, is_fortran, data = state
        self.array = _array(data, dtype, shape, "F" if is_fortran else "C")


def _reconstruct(cls: Any, shape: Any, dtype: Any) -> _ArrayStandIn:
    """`numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')`: an empty array to fill."""
    del shape, dtype  # numpy's placeholders; the state carries the real ones
    if cls is not _NdarrayStandIn:
        raise UnsafePickleError(f"array reconstruction of {cls!r:.80} instead of numpy.ndarray")
    return _ArrayStandIn()


def _frombuffer(data: Any, dtype: Any, shape: Any, order: Any) -> _ArrayStandIn:
    """`numpy.core.numeric._frombuffer`, which protocol-5 pickles of arrays call."""
    stand_in = _ArrayStandIn()
    stand_in.array = _array(data, dtype, shape, order)
    return stand_in


def _array(data: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """The array of `data`'s bytes, after checking every argument is what numpy writes."""
    if not isinstance(dtype, _DtypeStandIn):
        raise UnsafePickleError(f"array dtype {dtype!r:.80} was not unpickled as a dtype")
    if not (
        isinstance(shape, tuple)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise UnsafePickleError(f"array shape {shape!r:.80} is not a tuple of sizes")
    if order not in ("C", "F"):
        raise UnsafePickleError(f"array order {order!r:.20} is neither C nor F")
    if isinstance(data, str):  # Python 2's str, read with a text encoding
        data = data.encode("latin-1")
    if not isinstance(data, bytes | bytearray):
        raise UnsafePickleError(f"array data is {type(data).__name__}, not bytes")
    numpy_dtype = dtype.resolve()
    if len(data) != math.prod(shape) * numpy_dtype.itemsize:
        raise UnsafePickleError(
            f"array of shape {shape} and dtype {numpy_dtype} needs "
            f"{math.prod(shape) * numpy_dtype.itemsize} bytes, the pickle holds {len(data)}"
        )
    return np.frombuffer(data, numpy_dtype).reshape(shape, order=order)


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """`_codecs.encode(text, 'latin1')`: how Python 3 pickles bytes at protocols 0-2."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"_codecs.encode of {type(text).__name__} as {encoding!r:.20}")
    return text.encode("latin-1")


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NdarrayStandIn,
    ("numpy", "dtype"): _DtypeStandIn,
    ("_codecs", "encode"): _encode,
    **{(f"{core}.multiarray", "_reconstruct"): _reconstruct for core in _NUMPY_CORE_MODULES},
    **{(f"{core}.numeric", "_frombuffer"): _frombuffer for core in _NUMPY_CORE_MODULES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {module}.{name}: a data file may only name numpy's array "
                "reconstruction"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused a persistent id: a data file has none")


def loads(data: bytes) -> Any:
    """Unpickles `data` like `pickle.loads(data, encoding="bytes")` (Python 2 strings stay
    bytes, as in the official CIFAR files), allowing only numpy arrays of plain numeric
    dtypes besides Python's own containers and scalars.

    Raises:
      UnsafePickleError: the pickle names any other global (nothing it names is called).
      Exception: whatever `pickle` raises for data that is not a pickle.
    """
    content = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    if isinstance(content, dict):
        return {key: _resolved(value) for key, value in content.items()}
    return _resolved(content)


def _resolved(value: Any) -> Any:
    if isinstance(value, _ArrayStandIn):
        if value.array is None:
            raise UnsafePickleError("an array was reconstructed but given no state")
        return value.array
    return value
