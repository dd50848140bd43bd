"""What the DAG-testing helpers raise: each is a :class:`~windvane.errors.WindvaneError` and an
:class:`AssertionError`, so pytest reports it as a failed check with its message, not a crash."""

from __future__ import annotations

from windvane.errors import WindvaneError


class RunFailedError(WindvaneError, AssertionError):
    """A DAG run or task run that was asserted to succeed did not; the message names the
    failing task and holds its error and log."""


class NotIdempotentError(WindvaneError, AssertionError):
    """Running the same work twice for one logical date produced different results."""


class NotDeterministicError(WindvaneError, AssertionError):
    """Two runs in fresh sandboxes differed: wall-clock time, randomness or uuids leaked into outputs."""


class SnapshotMismatchError(WindvaneError, AssertionError):
    """A DAG's structure differs from its reviewed snapshot (or has none yet)."""
