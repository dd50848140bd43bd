"""How a forked child ended: one classification for every supervisor.

:class:`ChildEnd` is what :class:`~windvane.core.forking.handle.ForkedChild`
reports once the child is done. Its :class:`Ending` says, in this order of
precedence:

* ``REPORTED``: the whole result arrived (whatever happened after);
* ``TIMED_OUT``: the supervisor ended it at its deadline;
* ``KILLED``: the supervisor ended it for another ``reason`` (a lost claim, a
  worker stopping);
* ``INTERNAL_ERROR``: it exited with
  :data:`~windvane.core.forking.child.CHILD_INTERNAL_ERROR` (its setup or body
  raised);
* ``EXITED``: it exited with another code without reporting;
* ``SIGNALED``: a signal killed it (a segfault, someone's SIGKILL);
* ``VANISHED``: its exit status was lost (someone else reaped it).

Callers phrase their own messages from these fields; :attr:`ChildEnd.status`
is the plain wait-status phrase ("exited with code 3", "was killed by signal
SIGSEGV").
"""

from __future__ import annotations

import enum
import os
import signal
from dataclasses import dataclass

from windvane.core.forking.child import CHILD_INTERNAL_ERROR


class Ending(enum.Enum):
    """How a child ended (see the module doc)."""

    REPORTED = "reported"
    TIMED_OUT = "timed_out"
    KILLED = "killed"
    INTERNAL_ERROR = "internal_error"
    EXITED = "exited"
    SIGNALED = "signaled"
    VANISHED = "vanished"


@dataclass(frozen=True, slots=True)
class ChildEnd:
    """The end of one child.

    ``payload`` is the whole result (None unless ``how`` is ``REPORTED``).
    ``exit_code`` and ``signal`` come from its wait status, when it was waited
    for (a child that reported is left to finish its teardown: both None).
    ``reason`` is why the supervisor terminated it, if it did (also kept when
    the child reported before the signal landed), and ``timed_out`` says the reason was its
    deadline. ``duration`` is seconds from
    the fork to the end. ``oom_kills`` counts the processes the kernel's OOM killer ended in the
    child's cgroup (its memory limit; 0 without a cgroup).
    """

    how: Ending
    pid: int
    duration: float
    payload: bytes | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    timed_out: bool = False
    oom_kills: int = 0

    @property
    def signal_name(self) -> str | None:
        """``"SIGSEGV"`` for a child a signal killed, ``"signal 99"`` for an unnamed one, else None."""
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return f"signal {self.signal}"

    @property
    def status(self) -> str:
        """The wait status in words: ``"exited with code 3"``, ``"was killed by signal SIGSEGV"``,
        ``"reported its result"`` (not waited for) or ``"vanished"`` (status lost)."""
        if self.signal is not None:
            return f"was killed by signal {self.signal_name}"
        if self.exit_code is not None:
            return f"exited with code {self.exit_code}"
        return "reported its result" if self.how is Ending.REPORTED else "vanished"


def classify(
    pid: int,
    duration: float,
    payload: bytes | None,
    wait_status: int | None,
    *,
    reason: str | None,
    timed_out: bool,
    oom_kills: int = 0,
) -> ChildEnd:
    """The :class:`ChildEnd` of a child from what its supervisor saw (see the module doc)."""
    exit_code = sig = None
    if wait_status is not None:
        if os.WIFSIGNALED(wait_status):
            sig = os.WTERMSIG(wait_status)
        else:
            exit_code = os.waitstatus_to_exitcode(wait_status)
    if payload is not None:
        how = Ending.REPORTED
    elif timed_out:
        how = Ending.TIMED_OUT
    elif reason is not None:
        how = Ending.KILLED
    elif sig is not None:
        how = Ending.SIGNALED
    elif exit_code == CHILD_INTERNAL_ERROR:
        how = Ending.INTERNAL_ERROR
    elif exit_code is not None:
        how = Ending.EXITED
    else:
        how = Ending.VANISHED
    return ChildEnd(how, pid, duration, payload, exit_code, sig, reason, timed_out, oom_kills)
