"""``windvane dags backfill``: queue runs for past intervals, then drive just those runs to the end.

The runs are queued by :func:`windvane.core.store.run_actions.create_backfill` (one
transaction). A :class:`Scheduler` in backfill mode (``only_runs``) with the
configured executor then runs them here, showing progress, until each has
finished. Backfill runs of the same DAG and dates that an interrupted backfill
left queued or running are picked up again. The plan is made first in a
transaction that is rolled back: ``--dry-run`` stops there; otherwise the count
is printed and, above ``[cli] backfill_confirm_above`` runs with stdin on a
terminal, the user is asked (``--yes`` skips the question) before the runs
are queued.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import pendulum
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Connection, Engine, func, select

from windvane.cli.args import to_datetime
from windvane.cli.base import EXIT_FAILURE, EXIT_OK, Cli, UsageError
from windvane.cli.logs import configure_logging
from windvane.cli.signals import stop_on_signals
from windvane.cli.views import load_serialized
from windvane.cli.wiring import create_metrics, create_scheduler, open_engine, scheduler_config
from windvane.core.model.events import RunFinished
from windvane.core.model.states import FINISHED_STATES, DagRunState, DagRunType
from windvane.core.scheduler.loop import Scheduler
from windvane.core.scheduler.observer import SafeObserver, SchedulerObserver
from windvane.core.store.dags import get_dag
from windvane.core.store.engine import begin_read
from windvane.core.store.run_actions import BackfillPlan, create_backfill
from windvane.core.store.tables import dag_run as run_t
from windvane.core.store.tables import task_instance as ti_t
from windvane.errors import WindvaneError

#: Seconds between progress reads from the database (a finished run triggers one at once).
_PROGRESS_INTERVAL = 0.5
#: Runs listed before a real backfill starts (--dry-run lists them all).
_LISTED = 10
_FINISHED_TI = [s.value for s in FINISHED_STATES]
_FINISHED_RUN = [DagRunState.SUCCESS.value, DagRunState.FAILED.value]


def _backfill(cli: Cli, args: argparse.Namespace) -> int:
    tz = cli.settings.core.default_timezone
    start, end = to_datetime(args.start_date, tz), to_datetime(args.end_date, tz)
    if start > end:
        raise UsageError(
            f"argument -s/--start-date: {args.start_date} is after -e/--end-date {args.end_date}"
        )
    configure_logging(cli.settings, verbose=cli.verbose)
    with open_engine(cli.settings) as engine:
        task_count = _check_dag(engine, args.dag_id)
        plan, labels = _plan(engine, args.dag_id, start, end, args.rerun_failed, commit=False)
        left_alone = len(plan.skipped_existing) - (len(labels) - len(plan.run_pks))  # minus resumed runs
        if left_alone:
            cli.out.line(f"Leaving alone {left_alone} interval(s) that already have a run.")
        if not labels:
            cli.out.line(f"Nothing to backfill for DAG {args.dag_id} between {start} and {end}.")
            return EXIT_OK
        verb = "Would run" if args.dry_run else "Running"
        cli.out.line(
            f"{verb} {len(labels)} backfill run(s) of DAG {args.dag_id} "
            f"({len(labels) * task_count} task instances):"
        )
        shown = list(labels.values()) if args.dry_run else list(labels.values())[:_LISTED]
        for label in shown:
            cli.out.line(f"  {label}")
        if len(shown) < len(labels):
            cli.out.line(f"  ... and {len(labels) - len(shown)} more (--dry-run lists them all)")
        if args.dry_run:
            return EXIT_OK
        if not _confirmed(len(labels), cli.settings.cli.backfill_confirm_above, yes=args.yes):
            cli.out.note("Aborted: nothing was queued.")
            return EXIT_FAILURE
        _, labels = _plan(engine, args.dag_id, start, end, args.rerun_failed, commit=True)
        pks = list(labels)
        config = scheduler_config(
            cli.settings,
            only_runs=pks,
            backfill_max_active_runs=args.max_active_runs,
            run_types=("backfill",),
        )
        # Backfill metrics go to StatsD only: the scheduler's endpoint owns the Prometheus port.
        metrics = create_metrics(cli.settings, engine, service="backfill")
        with _progress(cli) as progress:
            watcher = _Watcher(engine, pks, progress, total_tis=task_count * len(pks))
            observer = SafeObserver([watcher, metrics.observer])
            scheduler = create_scheduler(cli.settings, engine, config=config, observer=observer)
            try:
                with stop_on_signals(scheduler.stop) as received:
                    scheduler.run(until=watcher.done)
            finally:
                metrics.close()
            watcher.refresh()
        return _summary(cli, engine, pks, interrupted=bool(received))


def _confirmed(runs: int, confirm_above: int, *, yes: bool) -> bool:
    """Whether to go on: asked only above ``confirm_above`` runs, without ``--yes``, on a terminal
    (a script or CI job with stdin elsewhere is not stopped: it chose its range)."""
    if yes or runs <= confirm_above or not sys.stdin.isatty():
        return True
    answer = input(f"Queue and run {runs} backfill runs? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _check_dag(engine: Engine, dag_id: str) -> int:
    """The DAG's task count; a paused or inactive DAG is refused (its runs would never start)."""
    with begin_read(engine) as conn:
        row = get_dag(conn, dag_id)
        dag = load_serialized(conn, dag_id)
    if not row.is_active:
        raise WindvaneError(f"DAG {dag_id!r} is not active (its file {row.fileloc} no longer defines it)")
    if row.is_paused:
        raise WindvaneError(f"DAG {dag_id!r} is paused: unpause it first (windvane dags unpause {dag_id})")
    return len(dag.tasks)


def _plan(
    engine: Engine,
    dag_id: str,
    start: pendulum.DateTime,
    end: pendulum.DateTime,
    rerun: bool,
    *,
    commit: bool,
) -> tuple[BackfillPlan, dict[int, str]]:
    """Queue the runs (or only plan them) and label each run to drive: ``run_id (why)``."""
    with engine.connect() as conn, conn.begin() as transaction:
        dag = load_serialized(conn, dag_id)
        plan = create_backfill(conn, dag, start=start, end=end, now=pendulum.now("UTC"), rerun_failed=rerun)
        resumed = _resumable(conn, dag_id, plan.skipped_existing)
        why = {**{pk: "new" for pk in plan.created}, **{pk: "rerun failed" for pk in plan.rerun}}
        why.update({pk: "resumed" for pk in resumed})
        names = dict(conn.execute(select(run_t.c.id, run_t.c.run_id).where(run_t.c.id.in_(list(why)))).all())
        labels = {pk: f"{names[pk]} ({why[pk]})" for pk in sorted(why, key=lambda pk: names[pk])}
        if not commit:
            transaction.rollback()
    return plan, labels


def _resumable(conn: Connection, dag_id: str, run_ids: Sequence[str]) -> list[int]:
    """Backfill runs among ``run_ids`` that are still queued or running (an interrupted backfill)."""
    if not run_ids:
        return []
    stmt = select(run_t.c.id).where(
        run_t.c.dag_id == dag_id,
        run_t.c.run_id.in_(list(run_ids)),
        run_t.c.run_type == DagRunType.BACKFILL.value,
        run_t.c.state.in_([DagRunState.QUEUED.value, DagRunState.RUNNING.value]),
    )
    return list(conn.execute(stmt).scalars())


def _progress(cli: Cli) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=cli.out.console,
        transient=False,
    )


class _Watcher(SchedulerObserver):
    """Reads progress from the database and tells the scheduler when every run has finished."""

    def __init__(self, engine: Engine, run_pks: list[int], progress: Progress, *, total_tis: int) -> None:
        self.engine = engine
        self.run_pks = run_pks
        self.finished = False
        self._progress = progress
        self._runs = progress.add_task("DAG runs", total=len(run_pks))
        self._tis = progress.add_task("task instances", total=total_tis)
        self._next_read = 0.0

    def run_finished(self, event: RunFinished) -> None:
        self._next_read = 0.0  # read now: this may have been the last run

    def done(self, scheduler: Scheduler) -> bool:
        if time.monotonic() >= self._next_read:
            self.refresh()
        return self.finished

    def refresh(self) -> None:
        """Read how many runs and task instances have finished, and show it."""
        self._next_read = time.monotonic() + _PROGRESS_INTERVAL
        with begin_read(self.engine) as conn:
            runs_done = conn.execute(
                select(func.count()).where(run_t.c.id.in_(self.run_pks), run_t.c.state.in_(_FINISHED_RUN))
            ).scalar_one()
            tis_done = conn.execute(
                select(func.count()).where(
                    ti_t.c.dag_run_id.in_(self.run_pks), ti_t.c.state.in_(_FINISHED_TI)
                )
            ).scalar_one()
        self._progress.update(self._runs, completed=runs_done)
        self._progress.update(self._tis, completed=tis_done)
        self.finished = runs_done >= len(self.run_pks)


def _summary(cli: Cli, engine: Engine, pks: list[int], *, interrupted: bool) -> int:
    with begin_read(engine) as conn:
        rows = conn.execute(
            select(run_t.c.run_id, run_t.c.state).where(run_t.c.id.in_(pks)).order_by(run_t.c.logical_date)
        ).all()
    counts: dict[str, int] = {}
    for _, state in rows:
        counts[state] = counts.get(state, 0) + 1
    for run_id, state in rows:
        if state != DagRunState.SUCCESS.value:
            cli.out.line(f"  {run_id}: {state}")
    cli.out.line(
        "Backfill "
        + ("interrupted" if interrupted else "finished")
        + ": "
        + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    )
    if interrupted and counts.keys() - set(_FINISHED_RUN):
        cli.out.note("Unfinished runs stay queued; run the same backfill again to resume them.")
    ok = not interrupted and set(counts) == {DagRunState.SUCCESS.value}
    return EXIT_OK if ok else EXIT_FAILURE
