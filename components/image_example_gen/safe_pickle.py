"""Unpickling data files without running their code.

`pickle.loads` calls whatever callable a file names, with arguments the file chooses: a
CIFAR batch from a shared folder could run `os.system`. `loads` here resolves only the globals
that pickled numpy arrays name — numpy's array reconstruction, `numpy.ndarray`,
`numpy.dtype`, and `_codecs.encode` (how Python 3 pickles bytes at protocol 2) — and even
those to stand-ins of this module, not numpy's own functions: the array's shape, dtype and
bytes are checked and it is built by `np.frombuffer`, so no numpy code runs on a state the
file crafted (an object dtype could otherwise turn raw bytes into pointers). Only plain
numeric dtypes load. Every other global is refused with `UnsafePickleError`, before
anything is called. The stand-ins refuse the BUILD opcode (which would otherwise overwrite
their attributes, their class included), and a value the file chose is described in an
error by a bounded repr: shared references can make a full one exponentially long.

Arrays are resolved where the CIFAR files keep them, as the values of the top-level dict
(or the top-level object itself); a stand-in found deeper stays a stand-in, which the
caller's type checks reject.
"""

import io
import math
import pickle
import reprlib
from collections.abc import Callable
from typing import Any

import numpy as np

# The plain numeric dtypes an array may have ('u1' is CIFAR's uint8 pixels).
_NUMERIC_TYPES = frozenset({"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"})
_BYTE_ORDERS = frozenset({"<", ">", "=", "|"})
# Where numpy 1.x and 2.x put the functions their array pickles call.
_NUMPY_CORE_MODULES = ("numpy.core", "numpy._core")
# Bounds checked before any arithmetic on a shape the file chose.
_MAX_DIMENSIONS = 32
_MAX_DIMENSION = 2**48
# A value the file chose is described by a bounded repr: a pickle's shared references can
# make a full repr exponentially long.
_brief = reprlib.Repr()
_brief.maxlevel, _brief.maxstring, _brief.maxother = 2, 40, 40


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global this module does not allow, or gives an array a state that
    no numpy array has."""


class _Frozen:
    """A stand-in that a pickle's BUILD opcode cannot change: BUILD calls `__setstate__`
    when there is one, and would otherwise overwrite the object's attributes (its class)."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise UnsafePickleError(f"refused to give {type(self).__name__} a state")


class _Global(_Frozen):
    """What a global the file names resolves to: a call of one of this module's functions."""

    __slots__ = ("_function",)

    def __init__(self, function: Callable[..., Any]):
        object.__setattr__(self, "_function", function)

    def __call__(self, *args: Any) -> Any:
        return self._function(*args)


class _Marker(_Frozen):
    """`numpy.ndarray`, as the class argument of the array reconstruction."""

    __slots__ = ()


_NDARRAY = _Marker()


class _DtypeStandIn:
    """`numpy.dtype(type_code, align, copy)` as a pickle calls it; `__setstate__` takes the
    byte order. Python 2's pickles, read as bytes, give both as bytes."""

    def __init__(self, type_code: Any):
        self.type_code = _text(type_code)
        self.byte_order = "|"
        if self.type_code not in _NUMERIC_TYPES:
            raise UnsafePickleError(
                f"dtype {_brief.repr(type_code)} is not one of {', '.join(sorted(_NUMERIC_TYPES))}"
            )

    def __setstate__(self, state: Any) -> None:
        order = _text(state[1]) if isinstance(state, tuple) and len(state) >= 2 else None
        if order not in _BYTE_ORDERS:
            raise UnsafePickleError(f"dtype state {_brief.repr(state)} is not a plain dtype's")
        self.byte_order = order

    def resolve(self) -> np.dtype:
        if self.type_code not in _NUMERIC_TYPES or self.byte_order not in _BYTE_ORDERS:
            raise UnsafePickleError("a dtype was altered after it was checked")
        byte_order = "" if self.byte_order == "|" else self.byte_order
        return np.dtype(byte_order + self.type_code)


class _ArrayStandIn:
    """An array being unpickled: created empty, then given its state by `__setstate__`
    (numpy's `(version, shape, dtype, is_fortran, data)`), or built at once from a
    protocol-5 buffer."""

    array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # the version (1)
        if not isinstance(state, tuple) or len(state) != 4:
            raise UnsafePickleError(f"array state {_brief.repr(state)} is not numpy's")
        shape, dtype, is_fortran, data = state
        self.array = _array(data, dtype, shape, "F" if is_fortran else "C")


def _make_dtype(type_code: Any, align: Any = False, copy: Any = False) -> _DtypeStandIn:
    del align, copy
    return _DtypeStandIn(type_code)


def _reconstruct(cls: Any, shape: Any, dtype: Any) -> _ArrayStandIn:
    """`numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')`: an empty array to fill."""
    del shape, dtype  # numpy's placeholders; the state carries the real ones
    if cls is not _NDARRAY:
        raise UnsafePickleError(f"array reconstruction of {_brief.repr(cls)}, not numpy.ndarray")
    return _ArrayStandIn()


def _frombuffer(data: Any, dtype: Any, shape: Any, order: Any) -> _ArrayStandIn:
    """`numpy.core.numeric._frombuffer`, which protocol-5 pickles of arrays call."""
    stand_in = _ArrayStandIn()
    stand_in.array = _array(data, dtype, shape, order)
    return stand_in


def _array(data: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """The array of `data`'s bytes, after checking every argument is what numpy writes."""
    if not isinstance(dtype, _DtypeStandIn):
        raise UnsafePickleError(f"array dtype {_brief.repr(dtype)} was not unpickled as one")
    if not (
        isinstance(shape, tuple)
        and len(shape) <= _MAX_DIMENSIONS
        and all(type(n) is int and 0 <= n < _MAX_DIMENSION for n in shape)
    ):
        raise UnsafePickleError(f"array shape {_brief.repr(shape)} is not a tuple of sizes")
    order = _text(order)
    if order not in ("C", "F"):
        raise UnsafePickleError(f"array order {_brief.repr(order)} is neither C nor F")
    if isinstance(data, str):  # Python 2's str, read with a text encoding
        data = data.encode("latin-1")
    if not isinstance(data, bytes | bytearray):
        raise UnsafePickleError(f"array data is {type(data).__name__}, not bytes")
    numpy_dtype = dtype.resolve()
    size = math.prod(shape) * numpy_dtype.itemsize
    if len(data) != size:
        raise UnsafePickleError(
            f"array of shape {shape} and dtype {numpy_dtype} needs {size} bytes, the pickle "
            f"holds {len(data)}"
        )
    return np.frombuffer(data, numpy_dtype).reshape(shape, order=order)


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """`_codecs.encode(text, 'latin1')`: how Python 3 pickles bytes at protocols 0-2."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(
            f"_codecs.encode of {type(text).__name__} as {_brief.repr(encoding)}"
        )
    return text.encode("latin-1")


def _text(value: Any) -> Any:
    """`value` as str when it is ASCII bytes (Python 2's str read as bytes), else as it is."""
    if isinstance(value, bytes) and len(value) <= 8:
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            return value
    return value


_ALLOWED_GLOBALS: dict[tuple[str, str], _Frozen] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Global(_make_dtype),
    ("_codecs", "encode"): _Global(_encode),
    **{
        (f"{core}.multiarray", "_reconstruct"): _Global(_reconstruct)
        for core in _NUMPY_CORE_MODULES
    },
    **{(f"{core}.numeric", "_frombuffer"): _Global(_frombuffer) for core in _NUMPY_CORE_MODULES},
}


# Dict keys a data file may use: hashing one is cheap. A tuple key nested through shared
# references would make Python hash 10**depth elements (a hang) as the dict is built.
_KEY_TYPES = (bytes, str, int)


class _RestrictedUnpickler(pickle._Unpickler):  # the Python one: its opcodes can be hooked
    """The pure-Python unpickler (the C one cannot be changed per opcode) with the globals
    restricted, dict keys limited to `_KEY_TYPES` and sets refused (a set hashes its items).
    Slower than the C unpickler, but small beside encoding the batch's images as PNG: nearly
    all of a CIFAR batch is one string of pixels (docs/benchmarks.md#untrusted-data)."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def load_setitem(self) -> None:
        _check_keys([self.stack[-2]])
        pickle._Unpickler.load_setitem(self)

    def load_setitems(self) -> None:
        items = self.pop_mark()
        _check_keys(items[0::2])
        target = self.stack[-1]
        for index in range(0, len(items), 2):
            target[items[index]] = items[index + 1]

    def load_dict(self) -> None:
        items = self.pop_mark()
        _check_keys(items[0::2])
        self.append({items[index]: items[index + 1] for index in range(0, len(items), 2)})

    def refuse_set(self) -> None:
        raise UnsafePickleError("refused a set: a data file holds none")

    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.DICT[0]] = load_dict
    for _opcode in (pickle.EMPTY_SET, pickle.ADDITEMS, pickle.FROZENSET):
        dispatch[_opcode[0]] = refuse_set

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {_brief.repr(module)[:80]}.{_brief.repr(name)[:80]}: a data "
                "file may only name numpy's array reconstruction"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused a persistent id: a data file has none")


def _check_keys(keys: list[Any]) -> None:
    for key in keys:
        if type(key) not in _KEY_TYPES:
            raise UnsafePickleError(
                f"a dict key of type {type(key).__name__}: a data file's keys are bytes, str or int"
            )


def brief(value: Any) -> str:
    """A repr of an unpickled `value` bounded in length (and in time)."""
    return _brief.repr(value)


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
