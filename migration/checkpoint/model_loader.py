"""Loads `FILE.py:FUNCTION` / `package.module:FUNCTION` and calls it:
the model of `--model`, the optimizer of `--optimizer`."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from migration.checkpoint import _compat, model_variables
from migration.checkpoint._errors import bad_argument

_SPEC_FORMS = "FILE.py:FUNCTION or package.module:FUNCTION"


@contextlib.contextmanager
def _on_sys_path(directory: str) -> Iterator[None]:
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        try:
            sys.path.remove(directory)
        except ValueError:
            pass


def _load_file(flag: str, spec: str, filename: str) -> types.ModuleType:
    path = os.path.abspath(filename)
    if not os.path.isfile(path):
        raise bad_argument(
            flag,
            spec,
            f"There is no file {filename!r}.",
            f"{_SPEC_FORMS}, with FILE an existing Python file",
        )
    stem = os.path.splitext(os.path.basename(path))[0]
    module_name = f"_km_migrate_{stem}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    # The file's own imports of its neighbours work while it loads.
    with _on_sys_path(os.path.dirname(path)):
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:  # the user's code: report, do not crash
            sys.modules.pop(module_name, None)
            raise bad_argument(
                flag,
                spec,
                f"Loading {filename!r} raised {type(error).__name__}: {error}",
                "a file that imports cleanly",
            ) from error
    return module


def _load_module(flag: str, spec: str, name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise bad_argument(
            flag,
            spec,
            f"Cannot import module {name!r} ({error}).",
            f"{_SPEC_FORMS}, with the module importable (PYTHONPATH)",
        ) from error
    except Exception as error:  # the user's code: report, do not crash
        raise bad_argument(
            flag,
            spec,
            f"Importing {name!r} raised {type(error).__name__}: {error}",
            "a module that imports cleanly",
        ) from error


def load_function(flag: str, spec: str) -> Callable[[], Any]:
    """The callable that `spec` names.

    Args:
      flag: the argument, for error messages (`--model`).
      spec: `path/to/file.py:FUNCTION` (loaded as a module, its directory on
        `sys.path` meanwhile) or `package.module:FUNCTION` (imported).

    Returns:
      The callable.

    Raises:
      UsageError: a malformed spec, a missing file or module, an import
        that raises, no such attribute, or one that is not callable.
    """
    where, colon, function_name = spec.rpartition(":")
    if not colon or not where or not function_name:
        raise bad_argument(
            flag, spec, "It has no `:FUNCTION` part.", _SPEC_FORMS
        )
    is_file = where.endswith(".py") or os.sep in where or "/" in where
    module = (
        _load_file(flag, spec, where)
        if is_file
        else _load_module(flag, spec, where)
    )
    function = getattr(module, function_name, None)
    if function is None:
        defined = sorted(
            name
            for name, value in vars(module).items()
            if callable(value)
            and not name.startswith("_")
            and getattr(value, "__module__", None) == module.__name__
        )
        raise bad_argument(
            flag,
            spec,
            f"{where!r} defines no {function_name!r} "
            f"(it defines: {', '.join(defined) or 'no functions'}).",
            _SPEC_FORMS,
        )
    if not callable(function):
        raise bad_argument(
            flag,
            spec,
            f"{function_name!r} is a {type(function).__name__}, not a "
            "function.",
            "a function that takes no arguments",
        )
    return function


def _call(flag: str, spec: str, function: Callable[[], Any]) -> Any:
    try:
        # Names (layers, optimizer) as a freshly started program gets them.
        with _compat.fresh_layer_names():
            return function()
    except Exception as error:  # the user's code: report, do not crash
        raise bad_argument(
            flag,
            spec,
            f"Calling it raised {type(error).__name__}: {error}",
            "a function that builds and returns the object with no arguments",
        ) from error


def load_model(spec: str) -> Any:
    """Calls the `--model` function; returns a model that has variables.

    Raises:
      UsageError: as `load_function`, or the call raises, or what it returns
        has no variables (e.g. a Keras model that was never built).
    """
    model = _call("--model", spec, load_function("--model", spec))
    if model_variables.variables_of(model):
        return model
    if model_variables.is_keras(model):
        problem = (
            f"It returned the {type(model).__name__} "
            f"{getattr(model, 'name', '')!r}, which has no variables yet: "
            "it was never built."
        )
        expected = (
            "a built model: start it with keras.Input(shape), or call "
            "model.build(input_shape) in the function"
        )
    else:
        problem = (
            f"It returned {type(model).__name__} {model!r:.80}, which has no "
            "variables."
        )
        expected = "a Keras 3 model (built) or a tf.Module with variables"
    raise bad_argument("--model", spec, problem, expected)


def load_optimizer(spec: str) -> Any:
    """The `--optimizer`: FILE.py:FUNCTION or package.module:FUNCTION
    returning the optimizer configured as the program trains with it.

    A bare Keras name (`adam`) is refused: its learning rate (Keras's
    default) would be written into the checkpoint, and a restore replaces
    the program's own learning rate with it, without a word.

    Returns:
      An unbuilt Keras 3 optimizer.

    Raises:
      UsageError: a name, a function that fails or returns something else,
        or an optimizer that was already built.
    """
    import keras  # pylint: disable=import-outside-toplevel

    if ":" not in spec:
        raise bad_argument(
            "--optimizer",
            spec,
            "A name would write Keras's default hyperparameters (the "
            "learning rate) into the checkpoint, and restoring it replaces "
            "your optimizer's own.",
            "FILE.py:FUNCTION or package.module:FUNCTION returning the "
            "optimizer as your program builds it (e.g. "
            "keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-8))",
        )
    optimizer = _call("--optimizer", spec, load_function("--optimizer", spec))
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise bad_argument(
            "--optimizer",
            spec,
            f"It gave {type(optimizer).__name__}, not a Keras optimizer.",
            "a function returning a keras.optimizers.Optimizer",
        )
    if optimizer.built:
        raise bad_argument(
            "--optimizer",
            spec,
            "The optimizer is already built (it has variables for some "
            "other model).",
            "a new, unbuilt optimizer: km-migrate builds it on the model's "
            "trainable variables",
        )
    return optimizer
