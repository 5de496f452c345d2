"""TensorFlow/Keras version handling and every access to private TF API."""

from __future__ import annotations

import types
from typing import Any

import tensorflow as tf


def tf1_train() -> types.ModuleType | None:
    """Returns `tf.compat.v1.train`, or None where this TF has no compat.v1."""
    compat = getattr(tf, "compat", None)
    v1 = getattr(compat, "v1", None) if compat is not None else None
    return getattr(v1, "train", None) if v1 is not None else None


def tf1_class(name: str) -> type | None:
    """Returns the TF1 class `tf.compat.v1.train.<name>`, if this TF has it."""
    train = tf1_train()
    return getattr(train, name, None) if train is not None else None


def is_instance_of_tf1(value: Any, name: str) -> bool:
    """True if `value` is an instance of `tf.compat.v1.train.<name>`."""
    cls = tf1_class(name)
    return cls is not None and isinstance(value, cls)


def is_exact_tf1(value: Any, name: str) -> bool:
    """True if `type(value)` is exactly `tf.compat.v1.train.<name>`.

    Subclasses are user code with their own behaviour: they are run as they
    are, never translated.
    """
    cls = tf1_class(name)
    return cls is not None and type(value) is cls


def private_attr(obj: Any, name: str, default: Any = None) -> Any:
    """Reads a private attribute of a TF1 object (its settings)."""
    return getattr(obj, name, default)


def set_private_attr(obj: Any, name: str, value: Any) -> None:
    """Writes a result back into a private attribute of a TF1 object."""
    setattr(obj, name, value)


def tf1_timer_settings(timer: Any) -> tuple[float | None, int | None]:
    """(every_secs, every_steps) of a TF1 `SecondOrStepTimer` ((None, None)
    for its `NeverTriggerTimer`)."""
    return (
        private_attr(timer, "_every_secs"),
        private_attr(timer, "_every_steps"),
    )


def is_checkpoint(value: Any) -> bool:
    """True for a `tf.train.Checkpoint`, or TF1's `tf.compat.v1.train.
    Checkpoint` (what `tf.train.Checkpoint` means where `tf` is
    `tensorflow.compat.v1`): both are containers whose children are saved."""
    return isinstance(
        value, (tf.train.Checkpoint, tf.compat.v1.train.Checkpoint)
    )


def checkpoint_children(checkpoint: tf.train.Checkpoint) -> dict[str, Any]:
    """The named children of a `tf.train.Checkpoint` (its constructor kwargs).

    `save_counter` is left out: it belongs to that object's own `save()`.
    """
    children = dict(checkpoint._trackable_children())  # pylint: disable=protected-access
    children.pop("save_counter", None)
    return children


def is_symbolic_tensor(value: Any) -> bool:
    """True for a graph (TF1-style) tensor that has no value."""
    return isinstance(value, tf.Tensor) and not hasattr(value, "numpy")


def is_variable(value: Any) -> bool:
    """True for a `tf.Variable` or a Keras 3 variable (e.g. `optimizer.iterations`)."""
    if isinstance(value, tf.Variable):
        return True
    if "keras" not in type(value).__module__:
        return False
    import keras  # pylint: disable=import-outside-toplevel

    return isinstance(value, keras.Variable)


def as_tf_variable(value: Any) -> Any:
    """The `tf.Variable` behind a Keras 3 variable (itself for a tf.Variable)."""
    if isinstance(value, tf.Variable):
        return value
    inner = getattr(value, "value", None)
    return inner if isinstance(inner, tf.Variable) else value


def read_scalar(variable: Any) -> int:
    """The value of an integer scalar variable, with one op (no identity copy;
    this read happens once per step)."""
    return int(as_tf_variable(variable).value().numpy())


def variable_name(value: Any) -> str:
    """A TF or Keras variable's TF name without its `:0` output suffix (a
    Keras 3 variable's TF name is its path, `sequential/dense/kernel`)."""
    name = as_tf_variable(value).name
    head, colon, index = name.rpartition(":")
    return head if colon and index.isdigit() else name


def variable_dtype(value: Any) -> tf.DType:
    """The TF dtype of a TF or Keras variable."""
    return tf.as_dtype(value.dtype)


def is_keras_optimizer(value: Any) -> bool:
    """True for a Keras 3 optimizer."""
    if "keras" not in type(value).__module__:
        return False
    import keras  # pylint: disable=import-outside-toplevel

    return isinstance(value, keras.optimizers.Optimizer)


def is_trackable(value: Any) -> bool:
    """True for anything a `tf.train.Checkpoint` can track."""
    return isinstance(value, tf.__internal__.tracking.Trackable)


def is_eager_assign_result(value: Any) -> bool:
    """True for what an eager `assign` returns (TF's private
    `_UnreadVariable`): it looks like the variable, but stands for an op that
    ran once."""
    return type(value).__name__ == "_UnreadVariable" and isinstance(
        value, tf.Variable
    )


def is_eager_tensor(value: Any) -> bool:
    """True for a concrete tensor with a value."""
    return isinstance(value, tf.Tensor) and hasattr(value, "numpy")


def python_state_base() -> type:
    """The base class for Python state saved inside TF checkpoints."""
    return tf.train.experimental.PythonState


def global_step_collection() -> list:
    """The TF1 GLOBAL_STEP collection of the default graph (a live list)."""
    v1 = tf.compat.v1
    return v1.get_collection_ref(v1.GraphKeys.GLOBAL_STEP)


def run_options() -> Any:
    """A fresh TF1 `RunOptions` proto."""
    return tf.compat.v1.RunOptions()


def run_metadata() -> Any:
    """A fresh TF1 `RunMetadata` proto."""
    return tf.compat.v1.RunMetadata()


def write_event(writer: Any, serialized_event: bytes) -> None:
    """Writes a serialized `tf.Event` through a `tf.summary` writer, in order
    with its summaries (for events `tf.summary` has no API for)."""
    from tensorflow.python.ops import gen_summary_ops  # pylint: disable=import-outside-toplevel

    gen_summary_ops.import_event(writer._resource, serialized_event)  # pylint: disable=protected-access


def call_concrete(concrete: Any, flat_inputs: list) -> Any:
    """Calls a traced ConcreteFunction with already-flattened tensor inputs.

    This skips `tf.function`'s per-call signature matching (about 200 us per
    call on CPU, often more than a small training step itself).
    """
    return concrete._call_flat(flat_inputs, concrete.captured_inputs)  # pylint: disable=protected-access


# -- execution mode --------------------------------------------------------


def eager_disabled_globally() -> bool:
    """True after `tf.compat.v1.disable_eager_execution()` (or
    `disable_v2_behavior()`): the process's default mode is graph mode."""
    from tensorflow.python.eager import context  # pylint: disable=import-outside-toplevel

    return context.default_execution_mode != context.EAGER_MODE


def building_function() -> bool:
    """True while a `tf.function` is being traced."""
    return bool(
        getattr(tf.compat.v1.get_default_graph(), "building_function", False)
    )


# -- checkpoint restores ---------------------------------------------------

# The key every object-based (TF2) checkpoint holds; TF1 `Saver` files lack it.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def restore_objects(root: Any, path: str) -> Any:
    """Starts an object-based restore of `path` into `root`; returns TF's
    load status (values of objects created later are assigned on creation).

    TF's own warning about unmatched values is silenced: km checks what was
    restored and what was not itself (`restored_objects`,
    `unused_checkpoint_values`) and reports it, naming the objects.
    """
    return root.restore(path).expect_partial()


def restored_objects(status: Any) -> list:
    """The objects a restore has given values to so far (including objects
    created after it, through TF's deferred restoration)."""
    return list(status._checkpoint.object_by_proto_id.values())  # pylint: disable=protected-access


def unused_checkpoint_values(status: Any) -> list[str]:
    """Checkpoint keys (without `/.ATTRIBUTES/...`) of the values that no
    object has taken so far."""
    checkpoint = status._checkpoint  # pylint: disable=protected-access
    bound = checkpoint.object_by_proto_id
    unused = []
    for node_id, node in enumerate(checkpoint.object_graph_proto.nodes):
        if node.attributes and node_id not in bound:
            unused.extend(
                attribute.checkpoint_key.split("/.ATTRIBUTES/")[0]
                for attribute in node.attributes
            )
    return unused


def trackables_with_paths(root: Any) -> list[tuple[Any, str]]:
    """Every object a checkpoint of `root` would save (slot variables
    included), with its path from the root (`model/_layers/0/kernel`),
    breadth first."""
    from tensorflow.python.checkpoint import graph_view, util  # pylint: disable=import-outside-toplevel

    objects, _, _, _, names = util.objects_ids_and_slot_variables_and_paths(
        graph_view.ObjectGraphView(root)
    )
    return [(obj, names.get(obj, "")) for obj in objects]


def has_saved_values(obj: Any) -> bool:
    """True if a checkpoint stores values for `obj` itself (a variable, a
    PythonState, an iterator), not only for its children."""
    from tensorflow.python.training.saving import saveable_object_util  # pylint: disable=import-outside-toplevel

    return bool(saveable_object_util.saveable_objects_from_trackable(obj))


def checkpoint_save_counter(checkpoint: Any) -> Any:
    """The `save_counter` a `tf.train.Checkpoint` made, without making one."""
    return getattr(checkpoint, "_save_counter", None)


# -- variables a traced step writes ----------------------------------------

# Ops that write the resource variables among their inputs.
_WRITE_OP_PREFIXES = (
    "AssignVariable",
    "AssignAddVariable",
    "AssignSubVariable",
    "ResourceApply",
    "ResourceSparseApply",
    "ResourceScatter",
    "ResourceStridedSliceAssign",
)
# Ops that call other functions of the library, and the attributes naming them.
_CALL_ATTRS = {
    "PartitionedCall": ("f",),
    "StatefulPartitionedCall": ("f",),
    "While": ("cond", "body"),
    "StatelessWhile": ("cond", "body"),
    "If": ("then_branch", "else_branch"),
    "StatelessIf": ("then_branch", "else_branch"),
    "Case": ("branches",),
    "StatelessCase": ("branches",),
}
# Calls whose first input selects the branch instead of feeding it.
_BRANCH_SELECTORS = ("If", "StatelessIf", "Case", "StatelessCase")


def _called_functions(node: Any, library: dict) -> list[str]:
    attrs = _CALL_ATTRS.get(node.op)
    if attrs is None:
        return [node.op] if node.op in library else []
    names = []
    for attr in attrs:
        value = node.attr[attr]
        if value.HasField("func"):
            names.append(value.func.name)
        names.extend(func.name for func in value.list.func)
    return names


def _written_capture_indices(concrete: Any) -> set[int]:
    """Indices into `concrete.captured_inputs` of the resources that ops of
    the function, or of any function it calls, write.

    Follows each resource from the captures through function calls (inputs
    map to the callee's arguments by position: nested tf.functions, loop
    bodies, branches), over the FunctionDefs of the function's library.
    """
    library = {
        f.signature.name: f
        for f in concrete.graph.as_graph_def().library.function
    }
    top = concrete.function_def
    num_args = len(top.signature.input_arg)
    num_captured = len(concrete.captured_inputs)
    written: set[int] = set()
    visited: set[tuple] = set()

    def walk(fdef: Any, arg_origins: list) -> None:
        key = (fdef.signature.name, tuple(arg_origins))
        if key in visited:
            return
        visited.add(key)
        # Inputs name function arguments bare, node outputs `node:out:i`;
        # only arguments carry a captured resource.
        origin = {
            arg.name: index
            for arg, index in zip(fdef.signature.input_arg, arg_origins)
        }.get
        for node in fdef.node_def:
            data = [i for i in node.input if not i.startswith("^")]
            if node.op.startswith(_WRITE_OP_PREFIXES):
                written.update(o for o in map(origin, data) if o is not None)
            callees = _called_functions(node, library)
            if callees:
                inputs = data[1:] if node.op in _BRANCH_SELECTORS else data
                origins = [origin(i) for i in inputs]
                for callee in callees:
                    if callee in library:
                        walk(library[callee], origins)

    walk(top, [None] * (num_args - num_captured) + list(range(num_captured)))
    return written


def written_variables(concrete: Any) -> list:
    """The variables a traced `tf.function` (a ConcreteFunction) writes:
    assigns and optimizer updates anywhere in it, nested functions and loops
    included. Components of distributed variables are mapped to their
    `MirroredVariable`; a Keras 3 variable appears as the `tf.Variable` it
    wraps."""
    from tensorflow.python.distribute import distribute_utils  # pylint: disable=import-outside-toplevel

    by_handle = {id(v.handle): v for v in concrete.graph.variables}
    found: dict[int, Any] = {}
    for index in sorted(_written_capture_indices(concrete)):
        variable = by_handle.get(id(concrete.captured_inputs[index]))
        if variable is None:
            continue  # a resource that is not a variable (iterator, table)
        container = distribute_utils.value_container(variable)
        found.setdefault(id(container), container)
    return list(found.values())


def variable_components(variable: Any) -> list:
    """A variable, the `tf.Variable` a Keras variable wraps, and the
    per-replica components of a distributed variable."""
    inner = as_tf_variable(variable)
    parts = [variable, inner]
    values = getattr(inner, "values", None)
    if isinstance(inner, tf.distribute.DistributedValues) and values:
        parts.extend(values)
    # ParameterServerStrategy: an AggregatingVariable around the variable
    # on the ps task (the one a traced step captures).
    wrapped = getattr(inner, "_v", None)
    if isinstance(wrapped, tf.Variable):
        parts.append(wrapped)
    return parts


def gather_checkpoint(root: Any) -> Any:
    """`{object: {key: value}}` that `root.write()` would save, from TF's own
    serializer (see _async_checkpoint). ValueError: registered savers."""
    tensors, _, registered, _ = root._saver._gather_serialized_tensors(None)  # pylint: disable=protected-access
    if registered:
        raise ValueError(f"{sorted(registered)} write themselves.")
    gathered = type(tensors)()  # unwrapping TF's SaveableCompatibilityConverter
    for key, values in tensors.items():
        gathered[getattr(key, "obj", key)] = values
    return gathered


def checkpoint_graph(root: Any) -> tuple | None:
    """Ids of what `root.write()` saves and its references (None: TF1 slots)."""
    view = root._saver._graph_view  # pylint: disable=protected-access
    order, seen, edges = [root], {id(root)}, []
    for obj in order:
        if hasattr(type(obj), "get_slot_names"):
            return None
        children = view.list_children(obj)
        edges.append(tuple((ref.name, id(ref.ref)) for ref in children))
        new = {id(r.ref): r.ref for r in children if id(r.ref) not in seen}
        seen.update(new)
        order.extend(new.values())
    return tuple(map(id, order)), tuple(edges)


def write_checkpoint_tensors(tensors: Any, file_prefix: str) -> None:
    """Writes `gather_checkpoint`'s tensors as `root.write(file_prefix)` would,
    from any thread (on its own eager executor, as TF's async thread)."""
    from tensorflow.python.checkpoint import functional_saver  # pylint: disable=import-outside-toplevel
    from tensorflow.python.eager import context, executor  # pylint: disable=import-outside-toplevel

    with context.executor_scope(executor.new_executor(enable_async=False)):
        functional_saver.MultiDeviceSaver(tensors).save(file_prefix)


class _Written:  # a CheckpointManager's checkpoint, written elsewhere
    save_counter = types.SimpleNamespace(assign_add=lambda value: None)

    def _write(self, file_prefix: str, options: Any) -> str:  # save() calls it
        for callback in options.experimental_write_callbacks:
            callback(file_prefix)
        return file_prefix


def recording_manager(directory: str, max_to_keep: Any, basename: str) -> Any:
    """A `tf.train.CheckpointManager` whose `save(checkpoint_number=N)` only
    records `<basename>-N` (written already) and applies `max_to_keep`."""
    return tf.train.CheckpointManager(
        _Written(), directory, max_to_keep, checkpoint_name=basename
    )
