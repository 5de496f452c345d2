"""HookSession: the session interface hooks see, written down.

TF1 handed hooks the raw `tf.Session`; they called `session.run(tensor)`.
A km hook receives a `HookSession` as `session` (in `after_create_session`
and `end`) and as `run_context.session`: `run(fetches)` reads fetches of the
last completed step (contract section 1), and the members below are what
km's own hooks use beyond TF1's. Every session km hands to hooks (a
monitored session's `StepSession`, the `model.fit` adapter's `FitSession`)
implements all of it, so hooks call these members directly.
"""

from __future__ import annotations

import abc
from typing import Any, Mapping


class HookSession(abc.ABC):
    """What a hook may do with the session it is given."""

    @abc.abstractmethod
    def run(
        self,
        fetches: Any,
        feed_dict: Mapping[str, Any] | None = None,
        options: Any = None,
        run_metadata: Any = None,
    ) -> Any:
        """Reads `fetches` (names, variables, callables, structures) against
        the last completed step, as numpy; TF1's `session.run` for hooks.

        Raises:
          KeyError: a name that is no output of the step.
          TypeError: a fetch that cannot be fetched, or a feed_dict.
        """

    @property
    def graph(self) -> None:
        """TF2 has no session graph (kept for TF1 code that reads it)."""
        return None

    @property
    @abc.abstractmethod
    def is_chief(self) -> bool:
        """Whether this process writes checkpoints and summaries."""

    @property
    @abc.abstractmethod
    def is_collective(self) -> bool:
        """True under a strategy whose workers act in lockstep
        (MultiWorkerMirrored): every worker saves, decisions are shared."""

    @property
    @abc.abstractmethod
    def scaffold(self) -> Any:
        """The session's `km.Scaffold` (None inside `model.fit`)."""

    @property
    @abc.abstractmethod
    def restored_checkpoint(self) -> str | None:
        """The checkpoint the session restored when it was created, if any."""

    @property
    @abc.abstractmethod
    def restored_step(self) -> int | None:
        """The global step of that checkpoint."""

    @property
    @abc.abstractmethod
    def last_outputs(self) -> Any:
        """The outputs of the last completed step (`StepOutputs`), or None."""

    @abc.abstractmethod
    def checkpoint_writer(
        self,
        directory: str,
        basename: str = "model.ckpt",
        items: Mapping[str, Any] | None = None,
    ) -> Any:
        """A writer saving this session's checkpoint (or `items`, with the
        global step and hook state) as `<directory>/<basename>-<step>`; on a
        non-chief worker of a collective strategy it saves to scratch."""

    @abc.abstractmethod
    def agree_with_chief(self, decision: bool) -> bool:
        """The chief's value of `decision`, on every worker (collective
        strategies; elsewhere `decision` itself)."""

    @abc.abstractmethod
    def record_step_summaries(self, destination: Any) -> Any:
        """Makes the step's own `tf.summary` calls write to `destination` on
        chosen steps; returns the target to assign those steps to.

        Raises:
          ValueError: this session does not compile the step itself.
        """

    @abc.abstractmethod
    def last_step_hint(self) -> int | None:
        """The earliest `last_step` a hook will stop at, if one is known."""
