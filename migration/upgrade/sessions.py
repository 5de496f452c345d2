"""Monitored sessions: what they checkpoint, and what `sess.run` runs.

TF1's default Saver saved every global variable; keras_monitored saves what
`km.Scaffold(checkpoint=...)` names, so a session (or Scaffold) that
checkpoints without naming its objects is reported. TF1 ran a graph op
(`sess.run(train_op)`) and fed placeholders (`feed_dict={x: value}`);
keras_monitored runs a step function (`sess.run(train_step,
feed_dict={"x": value})`). Writing the step function from the graph code is
a person's job: these calls are reported.
"""

from __future__ import annotations

import libcst as cst

from migration.upgrade import rules
from migration.upgrade.analyzer import Analyzer, argument, code_of
from migration.upgrade.diagnostics import ERROR, WARNING

_SESSIONS = frozenset(
    name
    for name, target in rules.KM_RENAMES.items()
    if target
    in (
        "km.MonitoredTrainingSession",
        "km.MonitoredSession",
        "km.SingularMonitoredSession",
    )
)
_KM_SESSIONS = frozenset(
    "keras_monitored." + target.split(".", 1)[1]
    for target in rules.KM_RENAMES.values()
    if target.endswith("Session")
)
_STEP_FN_HINT = (
    "Write a step function from the graph code that built it (a Keras model "
    "or tf.Variables, tf.GradientTape, optimizer.apply_gradients) returning "
    "a dict of what hooks fetch, e.g. {'loss': loss}, and run it: "
    "sess.run(train_step, feed_dict={'batch': iterator})."
)


#: km target -> (position of `checkpoint_dir`, of `scaffold`) in its call.
_CHECKPOINTING = {
    "km.MonitoredTrainingSession": (2, 3),
    "km.SingularMonitoredSession": (4, 1),
    "km.ChiefSessionCreator": (3, 0),
}
_NAME_WHAT = (
    "TF1's default Saver saved every global variable; keras_monitored saves "
    "what km.Scaffold(checkpoint=tf.train.Checkpoint(model=..., "
    "optimizer=...)) names"
)


class SessionAnalyzer(Analyzer):
    """Sessions that checkpoint nothing named, and `run` calls of monitored
    sessions that run graph tensors."""

    def __init__(self, plan):
        super().__init__(plan)
        self._sessions: set[str] = set()

    def visit_WithItem(self, node: cst.WithItem) -> bool:
        if self._makes_session(node.item) and node.asname is not None:
            target = node.asname.name
            if isinstance(target, cst.Name):
                self._sessions.add(target.value)
        return True

    def visit_Assign(self, node: cst.Assign) -> bool:
        if self._makes_session(node.value):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self._sessions.add(target.target.value)
        return True

    def visit_Call(self, node: cst.Call) -> bool:
        self._check_checkpointing(node)
        func = node.func
        if not (
            isinstance(func, cst.Attribute)
            and func.attr.value == "run"
            and isinstance(func.value, cst.Name)
            and func.value.value in self._sessions
        ):
            return True
        fetches = argument(node, 0, "fetches")
        if fetches is not None:
            self._check_fetches(node, fetches.value)
        feeds = argument(node, 1, "feed_dict")
        if isinstance(getattr(feeds, "value", None), cst.Dict):
            for element in feeds.value.elements:
                key = getattr(element, "key", None)
                if key is not None and not isinstance(key, cst.SimpleString):
                    self.report(
                        element,
                        ERROR,
                        f"feed_dict is keyed by `{code_of(key)}`, a graph "
                        "tensor (placeholder): feed the step function's "
                        "keyword arguments by name: feed_dict={'x': value}.",
                    )
        return True

    def _check_checkpointing(self, node: cst.Call) -> None:
        target = rules.KM_RENAMES.get(self.canonical(node.func) or "")
        if target == "km.Scaffold":
            if argument(node, None, "saver") is None:
                self.report(
                    node,
                    ERROR,
                    f"`{code_of(node.func)}(...)` names nothing to checkpoint: "
                    f"{_NAME_WHAT}: add checkpoint=... .",
                )
        elif target in _CHECKPOINTING:
            directory_at, scaffold_at = _CHECKPOINTING[target]
            directory = argument(node, directory_at, "checkpoint_dir")
            if (
                directory is not None
                and argument(node, scaffold_at, "scaffold") is None
            ):
                self.report(
                    node,
                    ERROR,
                    f"`{code_of(node.func)}` checkpoints into checkpoint_dir "
                    f"but names nothing to save: {_NAME_WHAT}: add "
                    "scaffold=km.Scaffold(checkpoint=...).",
                )
        elif target == "km.hooks.CheckpointSaverHook":
            if (
                argument(node, 3, "saver") is None
                and argument(node, 5, "scaffold") is None
            ):
                self.report(
                    node,
                    WARNING,
                    f"`{code_of(node.func)}` saves what its session's scaffold "
                    f"names: {_NAME_WHAT}: give the session "
                    "scaffold=km.Scaffold(checkpoint=...).",
                )

    def _makes_session(self, node: cst.CSTNode) -> bool:
        if not isinstance(node, cst.Call):
            return False
        return self.canonical(node.func) in _SESSIONS or bool(
            self.qualified(node.func) & _KM_SESSIONS
        )

    def _check_fetches(self, call: cst.Call, fetches: cst.CSTNode) -> None:
        if isinstance(fetches, cst.Lambda):
            return
        if isinstance(fetches, cst.Name):
            values = self.assigned_values(fetches)
            if values and all(
                isinstance(v, (cst.FunctionDef, cst.Lambda)) for v in values
            ):
                return
            if values is None or not values:
                self.report(
                    call,
                    WARNING,
                    f"`{code_of(call)}`: make sure `{fetches.value}` is a step "
                    "function (a graph op cannot run in TF2). " + _STEP_FN_HINT,
                )
                return
        self.report(
            call,
            ERROR,
            f"`{code_of(call)}` runs graph tensors or ops "
            f"(`{code_of(fetches)}`): TF2 has no graph. " + _STEP_FN_HINT,
        )
