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

from migration.upgrade.analyzer import Analyzer, argument, shown
from migration.upgrade.diagnostics import ERROR, WARNING

_SESSION_TARGETS = frozenset(
    {
        "km.MonitoredTrainingSession",
        "km.MonitoredSession",
        "km.SingularMonitoredSession",
    }
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
        self._step_fn_names: set[str] = set()
        self._contexts: list[str | None] = []

    def visit_Module(self, node: cst.Module) -> bool:
        """First, the functions given to `run_step_fn`: their step_context
        runs graph tensors too (`step_context.session.run(train_op)`)."""
        analyzer = self

        class _RunStepFns(cst.CSTVisitor):
            def visit_Call(self, call: cst.Call) -> None:
                if _method(call) == "run_step_fn" and call.args:
                    value = call.args[0].value
                    if isinstance(value, cst.Name):
                        analyzer._step_fn_names.add(value.value)

        node.visit(_RunStepFns())
        return True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        context = None
        if node.name.value in self._step_fn_names:
            params = [p.name.value for p in node.params.params]
            params = params[1:] if params[:1] == ["self"] else params
            context = params[0] if params else None
        self._contexts.append(context)
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._contexts.pop()

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
        if not self._runs_a_session(node):
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
                        f"feed_dict is keyed by `{shown(key)}`, a graph "
                        "tensor (placeholder): feed the step function's "
                        "keyword arguments by name: feed_dict={'x': value}.",
                    )
        return True

    def _runs_a_session(self, node: cst.Call) -> bool:
        """`sess.run(...)` of a monitored session, `x.run_with_hooks(...)`,
        or `step_context.session.run(...)` in a `run_step_fn` function."""
        func = node.func
        if _method(node) == "run_with_hooks":
            return True
        if _method(node) != "run":
            return False
        owner = func.value
        if isinstance(owner, cst.Name):
            return owner.value in self._sessions
        context = self._contexts[-1] if self._contexts else None
        return (
            context is not None
            and isinstance(owner, cst.Attribute)
            and owner.attr.value == "session"
            and isinstance(owner.value, cst.Name)
            and owner.value.value == context
        )

    def _check_checkpointing(self, node: cst.Call) -> None:
        target = self.km_target(node.func)
        if target == "km.Scaffold":
            if (
                argument(node, None, "saver") is None
                and argument(node, None, "checkpoint") is None
            ):
                self.report(
                    node,
                    ERROR,
                    f"`{shown(node.func)}(...)` names nothing to checkpoint: "
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
                    f"`{shown(node.func)}` checkpoints into checkpoint_dir "
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
                    f"`{shown(node.func)}` saves what its session's scaffold "
                    f"names: {_NAME_WHAT}: give the session "
                    "scaffold=km.Scaffold(checkpoint=...).",
                )

    def _makes_session(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Name):  # `with session as s:`
            return node.value in self._sessions
        if not isinstance(node, cst.Call):
            return False
        return self.km_target(node.func) in _SESSION_TARGETS

    def _check_fetches(self, call: cst.Call, fetches: cst.CSTNode) -> None:
        if isinstance(fetches, cst.Lambda):
            return
        if isinstance(fetches, cst.Name):
            values = self.assigned_values(fetches)
            if values and all(
                isinstance(v, (cst.FunctionDef, cst.Lambda)) for v in values
            ):
                # A step function: tf.summary calls in it are recorded.
                self.plan.step_functions.update(
                    v for v in values if isinstance(v, cst.FunctionDef)
                )
                return
            if values is None or not values:
                self.report(
                    call,
                    WARNING,
                    f"`{shown(call)}`: make sure `{fetches.value}` is a step "
                    "function (a graph op cannot run in TF2). " + _STEP_FN_HINT,
                )
                return
        self.report(
            call,
            ERROR,
            f"`{shown(call)}` runs graph tensors or ops "
            f"(`{shown(fetches)}`): TF2 has no graph. " + _STEP_FN_HINT,
        )


def _method(call: cst.Call) -> str | None:
    """The method name of `x.name(...)`, else None."""
    func = call.func
    return func.attr.value if isinstance(func, cst.Attribute) else None
