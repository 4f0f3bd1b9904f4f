"""The message types of `tf.train.Example`, without importing TensorFlow.

Beam workers build examples with these classes: they declare the same fields with the same
numbers as TensorFlow's `example.proto` and `feature.proto`, so an `Example` serializes to the
bytes of the `tf.train.Example` with the same features, and `tf.train.Example.FromString`
reads it. Importing TensorFlow would more than double every worker process's start, which
then outlasts reading thousands of CIFAR images (docs/benchmarks.md#workers-without-tensorflow).
The messages live in their own package (`image_example_gen`) and descriptor pool, so they
never clash with TensorFlow's in a process that imports both.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_PACKAGE = "image_example_gen"
_Field = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, repeated: bool = False, message: str = "") -> _Field:
    return _Field(
        name=name,
        number=number,
        type=kind,
        label=_Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL,
        type_name=f".{_PACKAGE}.{message}" if message else None,
    )


def _message(name: str, *fields: _Field) -> descriptor_pb2.DescriptorProto:
    return descriptor_pb2.DescriptorProto(name=name, field=fields)


def _file() -> descriptor_pb2.FileDescriptorProto:
    """example.proto and feature.proto of TensorFlow, as one proto3 file."""
    feature = _message(
        "Feature",
        _field("bytes_list", 1, _Field.TYPE_MESSAGE, message="BytesList"),
        _field("float_list", 2, _Field.TYPE_MESSAGE, message="FloatList"),
        _field("int64_list", 3, _Field.TYPE_MESSAGE, message="Int64List"),
    )
    feature.oneof_decl.add(name="kind")
    for field in feature.field:
        field.oneof_index = 0
    features = _message(
        "Features",
        _field("feature", 1, _Field.TYPE_MESSAGE, repeated=True, message="Features.FeatureEntry"),
    )
    entry = features.nested_type.add(name="FeatureEntry")
    entry.field.extend(
        [
            _field("key", 1, _Field.TYPE_STRING),
            _field("value", 2, _Field.TYPE_MESSAGE, message="Feature"),
        ]
    )
    entry.options.map_entry = True
    return descriptor_pb2.FileDescriptorProto(
        name=f"{_PACKAGE}/example.proto",
        package=_PACKAGE,
        syntax="proto3",  # repeated numbers are packed, as in TensorFlow's files
        message_type=[
            _message("BytesList", _field("value", 1, _Field.TYPE_BYTES, repeated=True)),
            _message("FloatList", _field("value", 1, _Field.TYPE_FLOAT, repeated=True)),
            _message("Int64List", _field("value", 1, _Field.TYPE_INT64, repeated=True)),
            feature,
            features,
            _message("Example", _field("features", 1, _Field.TYPE_MESSAGE, message="Features")),
        ],
    )


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())
_FACTORY = message_factory.MessageFactory(_POOL)


def _class(name: str) -> type:
    return _FACTORY.GetPrototype(_POOL.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


BytesList = _class("BytesList")
FloatList = _class("FloatList")
Int64List = _class("Int64List")
Feature = _class("Feature")
Features = _class("Features")
Example = _class("Example")
