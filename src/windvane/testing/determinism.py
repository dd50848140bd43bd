"""Determinism: a DAG run's outputs must depend on its logical date and inputs, not on when or how it ran.

:func:`check_deterministic` runs the DAG in fresh sandboxes with the clock
pinned (``time``, ``datetime``, ``pendulum``: all of them, through
`time-machine <https://pypi.org/project/time-machine/>`_) to the logical date,
``random`` seeded and ``uuid.uuid1``/``uuid4`` drawn from a seeded generator,
and compares what each run produced (XComs, watched files and tables,
:mod:`windvane.testing.effects`):

* two runs with the same pins must agree, else something unpinned leaks in
  (``os.urandom``, ``secrets``, process ids, hash order...);
* a run with the clock moved, the seed changed, or the uuid seed changed, must
  agree too, else wall-clock time, randomness or uuids leak into the outputs.

Each leak found is one section of the :class:`~windvane.testing.errors.NotDeterministicError`
message, with the differences. ``{sandbox}`` in ``conf`` and the watch is each
run's own sandbox folder, and the sandbox path in an XCom reads ``{sandbox}``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum

from windvane.core.authoring.dag import DAG
from windvane.testing.database import SqliteTemplate
from windvane.testing.effects import Effects, Watch, capture, diff_effects
from windvane.testing.errors import NotDeterministicError
from windvane.testing.idempotency import xcom_texts
from windvane.testing.run import run_dag
from windvane.testing.sandbox import create_env

SANDBOX = "{sandbox}"
#: How far the clock moves for the wall-clock probe: odd in every field, so any use shows.
CLOCK_SHIFT = dt.timedelta(days=1, hours=1, minutes=1, seconds=1, microseconds=1001)


@dataclass(frozen=True)
class Pins:
    """What a probe run pins: the clock, ``random``'s seed, the uuid generator's seed."""

    clock: pendulum.DateTime
    seed: int = 0
    uuid_seed: int = 0


def substitute(value: Any, home: Path) -> Any:
    """``value`` with ``{sandbox}`` replaced by ``home`` in every string (dicts and lists too)."""
    if isinstance(value, str):
        return value.replace(SANDBOX, str(home))
    if isinstance(value, Mapping):
        return {k: substitute(v, home) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(v, home) for v in value]
    return value


@contextlib.contextmanager
def pinned(pins: Pins) -> Iterator[None]:
    """Pin the clock, seed ``random`` and make ``uuid1``/``uuid4`` reproducible, for the block."""
    try:
        import time_machine
    except ImportError as exc:  # an optional dependency of windvane.testing
        raise NotDeterministicError(
            "the determinism check pins the clock with time-machine: pip install time-machine"
        ) from exc
    state = random.getstate()
    generator = random.Random(pins.uuid_seed)
    originals = (uuid.uuid1, uuid.uuid4)

    def fake_uuid4() -> uuid.UUID:
        return uuid.UUID(int=generator.getrandbits(128), version=4)

    def fake_uuid1(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
        return uuid.UUID(int=generator.getrandbits(128), version=1)

    random.seed(pins.seed)
    uuid.uuid4, uuid.uuid1 = fake_uuid4, fake_uuid1
    try:
        with time_machine.travel(pins.clock, tick=False):
            yield
    finally:
        uuid.uuid1, uuid.uuid4 = originals
        random.setstate(state)


def check_deterministic(
    dag: DAG,
    logical_date: pendulum.DateTime,
    *,
    watch: Watch | None = None,
    conf: Mapping[str, Any] | None = None,
    variables: Mapping[str, object] | None = None,
    connections: Mapping[str, Mapping[str, Any]] | None = None,
    template: SqliteTemplate | None = None,
    raise_on_leak: bool = True,
) -> dict[str, list[str]]:
    """Probe ``dag``'s run at ``logical_date`` (see the module doc); ``{leak: differences}``,
    empty when deterministic. Raises :class:`NotDeterministicError` on a leak unless told not to."""
    base = Pins(clock=logical_date.in_timezone("UTC"))
    probes = {
        "something unpinned (os.urandom, secrets, process ids, hash order...) changes between two "
        "identical runs": base,
        "wall-clock time leaks into outputs (the clock was moved)": Pins(base.clock + CLOCK_SHIFT),
        "randomness leaks into outputs (random was seeded differently)": Pins(base.clock, seed=1),
        "uuids leak into outputs (uuid1/uuid4 returned other values)": Pins(base.clock, uuid_seed=1),
    }
    common: dict[str, Any] = {
        "watch": watch or Watch(),
        "conf": conf,
        "variables": variables,
        "connections": connections,
    }
    reference = _probe_run(dag, logical_date, base, template, **common)
    leaks: dict[str, list[str]] = {}
    for leak, pins in probes.items():
        probe = _probe_run(dag, logical_date, pins, template, **common)
        differences = diff_effects(reference, probe, ("reference run", "probe run"))
        if differences:
            leaks[leak] = differences
    if leaks and raise_on_leak:
        sections = [f"{leak}:\n" + "\n".join("    " + d for d in diffs) for leak, diffs in leaks.items()]
        raise NotDeterministicError(
            f"DAG {dag.dag_id!r} is not deterministic for logical date {logical_date.isoformat()}; "
            "runs in fresh sandboxes with the clock pinned to the logical date and random seeded differ:\n  "
            + "\n  ".join(sections)
        )
    return leaks


def _probe_run(
    dag: DAG,
    logical_date: pendulum.DateTime,
    pins: Pins,
    template: SqliteTemplate | None,
    *,
    watch: Watch,
    conf: Mapping[str, Any] | None,
    variables: Mapping[str, object] | None,
    connections: Mapping[str, Mapping[str, Any]] | None,
) -> Effects:
    with tempfile.TemporaryDirectory(prefix="windvane-determinism-") as folder:
        home = Path(folder)
        env = create_env(home, template=template)
        try:
            local = Watch(
                {label: Path(substitute(str(path), home)) for label, path in watch.dirs.items()},
                substitute(watch.db_url, home) if watch.db_url else None,
                watch.tables,
            )
            with pinned(pins):
                result = run_dag(
                    dag,
                    logical_date,
                    conf=substitute(dict(conf or {}), home),
                    variables=variables,
                    connections=connections,
                    env=env,
                )
            result.assert_success()
            texts = {k: v.replace(str(home), SANDBOX) for k, v in xcom_texts([result]).items()}
            return capture(local, texts)
        finally:
            env.close()
