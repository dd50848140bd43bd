"""The DAG processor: keep the ``dag`` table in step with the DAGs folder.

Each pass (:meth:`DagProcessor.run_once`) lists the folder, finds the files
whose content changed (:mod:`.discovery`), parses them in forked children, one
per file (:mod:`.pool`, :mod:`.parse_child`), and writes the results a batch
per transaction (:mod:`.store_writer`), each batch bounded in size and time.
This process never runs user code itself: only children import DAG files, and
the scheduler works from what is stored.

The children are forked by the parse template (:mod:`.template`,
:mod:`.template_client`), a lean process started once with only the authoring
modules imported, so that a fork copies little; with ``parse_from_template``
off, or if the template cannot be started, the processor forks them itself.
Before the first pass the processor fixes the authoring defaults (time zone
of naive dates, default ``catchup``) it was given, and imports Windvane's
operators so that children it forks start warm.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence

from pendulum import DateTime
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from windvane.core.authoring.defaults import AuthoringDefaults, get_authoring_defaults, set_authoring_defaults
from windvane.core.forking.containment import current as current_containment
from windvane.core.model.clock import Clock, SystemClock
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.processor.discovery import ChangeDetector, list_dag_files
from windvane.core.processor.first_runs import FirstRuns
from windvane.core.processor.pool import FileResult, parse_files
from windvane.core.processor.report import ParseReport
from windvane.core.processor.store_ops import load_file_index, reconcile, remove_files
from windvane.core.processor.store_writer import FileUpdate, ParsedDag, StoreWriter
from windvane.core.processor.template_client import ParseTemplate, TemplateError, acquire, release
from windvane.core.processor.template_wire import TemplateSetup
from windvane.core.processor.warmup import warm_up
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.outage import OutageGuard, is_transient
from windvane.errors import ConfigError

log = logging.getLogger(__name__)

#: Database errors that say nothing about the data (a lost connection): the pass fails and is retried.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
#: Rounds of re-parsing files that were waiting for a dag_id another file gave up.
_MAX_ROUNDS = 3
#: Most parsed files written in one SQLite transaction: it holds the database's only write lock,
#: and a scheduler pass waits for it (≈ 2-3 ms a file at load 15: 50 files ≈ 0.1-0.15 s).
SQLITE_FILES_PER_TRANSACTION = 50
#: Fewest files a pass must parse to start the parse template (a running one is used for any pass):
#: starting it costs ≈ 1 s of CPU, a fork from the processor ≈ 12 ms a file more than from it.
TEMPLATE_MIN_FILES = 50


class DagProcessor:
    """Parses the DAG files under ``dags_folder`` into the store behind ``engine``.

    ``parse_timeout``: seconds one file may take (its child is then killed);
    ``parsing_processes``: children at once; ``safe_mode``: only parse files
    mentioning "dag" and "windvane"; ``paused_at_creation``: new DAGs start
    paused unless they say otherwise; ``authoring_defaults``: the time zone and
    catchup that DAG files are read with (set once here); ``parse_log``: file
    the children's stdout/stderr go to (``/dev/null`` when None);
    ``batch_size`` / ``batch_interval``: results are written when that many
    are waiting or that many seconds passed since the last write, at most
    ``files_per_transaction`` files a transaction (default: all of them, but
    :data:`SQLITE_FILES_PER_TRANSACTION` on SQLite, whose one write lock a
    scheduler pass would wait for);
    ``parse_from_template``: fork the children from the lean parse template
    (:mod:`.template`) rather than from this process, starting it for the
    first pass with at least ``template_min_files`` files to parse (smaller
    passes fork here until then); ``secrets``: where a DAG
    file's top-level Connection/Variable reads go in the template's children
    (children this process forks use the resolver installed here).
    """

    def __init__(
        self,
        dags_folder: str | os.PathLike[str],
        engine: Engine,
        *,
        parse_timeout: float = 30.0,
        parsing_processes: int = 2,
        safe_mode: bool = True,
        paused_at_creation: bool = False,
        clock: Clock | None = None,
        authoring_defaults: AuthoringDefaults | None = None,
        parse_log: str | None = None,
        batch_size: int = 200,
        batch_interval: float = 2.0,
        memory_limit_mib: int = 0,
        max_outage_seconds: float = 300.0,
        parse_from_template: bool = True,
        secrets: SecretsConfig | None = None,
        files_per_transaction: int | None = None,
        template_min_files: int = TEMPLATE_MIN_FILES,
    ) -> None:
        if not parse_timeout > 0:
            raise ConfigError(f"dag_processor.file_parse_timeout_seconds must be > 0, got {parse_timeout!r}")
        if isinstance(parsing_processes, bool) or parsing_processes < 1:
            raise ConfigError(f"dag_processor.parsing_processes must be >= 1, got {parsing_processes!r}")
        self.dags_folder = os.path.abspath(dags_folder)
        self.engine = engine
        self.parse_timeout = float(parse_timeout)
        self.parsing_processes = parsing_processes
        self.safe_mode = safe_mode
        self.clock: Clock = clock or SystemClock()
        self.parse_log = parse_log
        self.batch_size = max(1, batch_size)
        self.batch_interval = batch_interval
        if files_per_transaction is None:
            sqlite = engine.dialect.name == "sqlite"
            files_per_transaction = SQLITE_FILES_PER_TRANSACTION if sqlite else self.batch_size
        self.files_per_transaction = max(1, files_per_transaction)
        #: The address-space cap of each parsing child in MiB (0: none).
        self.memory_limit_mib = memory_limit_mib
        #: Transient database errors (dropped connections, locks, a full disk) are ridden out this long.
        self.outage = OutageGuard("DAG processor", max_outage_seconds=max_outage_seconds)
        self._writer = StoreWriter(paused_at_creation=paused_at_creation)
        self._first_runs = FirstRuns()
        self.parse_from_template = parse_from_template
        self.template_min_files = template_min_files
        self.secrets = secrets
        #: Why the parse template could not be started (then this process forks the children).
        self.template_failure: str | None = None
        self._detector: ChangeDetector | None = None
        self._reconciled = False
        self._defined: dict[str, list[str]] = {}
        if authoring_defaults is not None:
            set_authoring_defaults(authoring_defaults)
        warm_up()

    # -- loop -----------------------------------------------------------------------------
    def run(
        self,
        stop_event: threading.Event,
        refresh_interval: float = 2.0,
        on_report: Callable[[ParseReport], None] | None = None,
        on_database_error: Callable[[], None] | None = None,
    ) -> None:
        """Run passes every ``refresh_interval`` seconds until ``stop_event`` is set.

        ``on_report`` (metrics) sees every pass's report, ``on_database_error`` every transient
        database error; if either raises, that is logged and the processor goes on.

        A pass that fails is logged and retried next interval. One that fails on a transient
        database error (a dropped connection, a lock, a full disk) is retried after a backoff
        (0.5 s doubling to 10 s, counted in :attr:`outage`); an outage longer than
        ``max_outage_seconds`` raises :class:`~windvane.errors.DatabaseOutageError`. Waiting is on
        ``stop_event`` up to the next deadline, so setting it stops the loop at once.
        """
        while not stop_event.is_set():
            deadline = time.monotonic() + refresh_interval
            try:
                report = self.run_once()
                changed = report.parsed or report.deactivated
                log.log(logging.INFO if changed else logging.DEBUG, "DAG processor: %s", report.summary())
            except Exception as exc:
                if is_transient(exc):
                    _observe(on_database_error)
                    pause = self.outage.failed(exc)  # raises DatabaseOutageError past the allowed outage
                    log.warning(
                        "database error in a DAG processor pass (%s: %s); retrying in %.1f s",
                        type(exc).__name__,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                        pause,
                    )
                    self._detector = None  # re-read what is stored: the failed pass may not have landed
                    stop_event.wait(pause)
                    continue
                log.exception("DAG processor pass over %s failed", self.dags_folder)
            else:
                lasted = self.outage.succeeded()
                if lasted is not None:
                    log.warning("the database is back after %.1f s; the DAG processor goes on", lasted)
                if on_report is not None:
                    try:
                        on_report(report)
                    except Exception:
                        log.exception("observer of the DAG processor failed; parsing goes on")
            stop_event.wait(max(0.0, deadline - time.monotonic()))

    def run_once(self, force: bool = False) -> ParseReport:
        """One pass: parse new and changed files (every DAG file if ``force``) and store the results."""
        started = time.monotonic()
        report = ParseReport()
        paths = list_dag_files(self.dags_folder)
        report.files_seen = len(paths)
        if self._detector is None:
            self._detector = self._load_detector()
        detector = self._detector
        scan = detector.scan(paths, force=force)
        report.skipped_not_dag = len(scan.not_dag_files)
        report.skipped_unchanged = len(scan.unchanged)
        report.dag_files = sorted(scan.hashes)
        freed: set[str] = set()
        if not self._reconciled or scan.vanished:
            with begin_write(self.engine) as conn:
                if self._reconciled:
                    freed = remove_files(conn, scan.vanished)
                else:  # first pass: also forget what vanished while no processor watched
                    freed = reconcile(conn, scan.hashes)
            self._reconciled = True
            report.deactivated += len(freed)
            for path in scan.vanished:
                detector.forget(path)
                self._defined.pop(path, None)
        to_parse = sorted(set(scan.to_parse) | self._waiting_for(freed, scan.hashes))
        for _ in range(_MAX_ROUNDS):
            if not to_parse:
                break
            freed = self._parse_and_store(to_parse, scan.hashes, report)
            to_parse = sorted(self._waiting_for(freed, scan.hashes))
        report.total_parse_time = time.monotonic() - started
        return report

    # -- pieces ---------------------------------------------------------------------------
    def _waiting_for(self, freed: set[str], present: dict[str, str]) -> set[str]:
        """Present files that define one of the ``freed`` dag_ids (another file owned it until now)."""
        if not freed:
            return set()
        return {p for p, ids in self._defined.items() if p in present and freed.intersection(ids)}

    def _load_detector(self) -> ChangeDetector:
        with begin_read(self.engine) as conn:
            index = load_file_index(conn)
        self._defined = {path: ids for path, (_, ids) in index.items()}
        return ChangeDetector(
            safe_mode=self.safe_mode, parsed_hashes={path: h for path, (h, _) in index.items()}
        )

    def _parse_and_store(self, paths: Sequence[str], hashes: dict[str, str], report: ParseReport) -> set[str]:
        freed: set[str] = set()
        batch: list[FileUpdate] = []
        last_write = time.monotonic()
        now = self.clock.now()
        template = self._template(len(paths))
        try:
            results: Generator[FileResult, None, None] = (
                self._fork_here(paths)
                if template is None
                else template.parse(
                    paths,
                    parallelism=self.parsing_processes,
                    timeout=self.parse_timeout,
                    log_path=self.parse_log,
                    memory_limit_mib=self.memory_limit_mib,
                )
            )
            with contextlib.closing(results):  # a failed write kills the children still running
                for result in results:
                    report.parsed += 1
                    report.durations[result.path] = result.duration
                    if result.timed_out:
                        report.timed_out += 1
                    elif result.outcome is None:
                        report.crashed += 1
                    if not batch:  # one "now" a batch: its DAGs' first runs are computed once per schedule
                        now = self.clock.now()
                    batch.append(self._to_update(result, hashes, now))
                    if len(batch) >= self.batch_size or time.monotonic() - last_write >= self.batch_interval:
                        freed |= self._write(batch, report)
                        batch = []
                        last_write = time.monotonic()
            if batch:
                freed |= self._write(batch, report)
        finally:
            if template is not None:
                report.template_restarts += template.take_deaths()
                release(template)
        return freed

    def _template(self, files: int) -> ParseTemplate | None:
        """A running parse template for a pass of ``files`` files, or None: this process forks
        the children."""
        if not self.parse_from_template or self.template_failure is not None:
            return None
        setup = TemplateSetup(
            sys_path=tuple(sys.path),
            cwd=os.getcwd(),
            authoring=get_authoring_defaults(),
            containment=current_containment().mode,
            secrets=self.secrets,
            log_path=self.parse_log,
            parent_pid=os.getpid(),
        )
        template = acquire(setup)
        if not template.alive and template.starts:  # it died while idle: this start replaces it
            template.deaths += 1
            log.warning("the parse template died between passes; starting a new one")
        if not template.alive:
            if files < self.template_min_files and template.starts == 0:
                return None  # not worth starting one yet
            try:
                template.start()
            except TemplateError as exc:
                self.template_failure = str(exc)
                log.warning("%s; the DAG processor forks the parse children itself", exc)
                return None
        return template

    def _fork_here(self, paths: Sequence[str]) -> Generator[FileResult, None, None]:
        return parse_files(
            paths,
            parallelism=self.parsing_processes,
            timeout=self.parse_timeout,
            log_path=self.parse_log,
            memory_limit_mib=self.memory_limit_mib,
            # No ``store.engine.after_fork`` in the child: it never touches the engine and leaves
            # through os._exit with gc off, so inherited connections are neither used nor closed,
            # and disposing the pool would cost each child about a millisecond of page faults.
            after_fork=None,
        )

    def _to_update(self, result: FileResult, hashes: dict[str, str], now: DateTime) -> FileUpdate:
        assert self._detector is not None
        dags: list[ParsedDag] = []
        error = result.error
        content_hash = hashes.get(result.path, "")
        if result.outcome is not None:
            content_hash = result.outcome.content_hash or content_hash
            for text, dag_hash in zip(result.outcome.dags, result.outcome.hashes, strict=True):
                try:
                    serialized = SerializedDag.from_json(text)
                except Exception as exc:  # a child and its parent disagree on the format: a bug
                    problem = f"{result.path}: unreadable serialized DAG: {exc}"
                    error = f"{error}\n\n{problem}" if error else problem
                    continue
                checked = self._first_runs.check(serialized, now)
                if isinstance(checked, str):
                    error = f"{error}\n\n{checked}" if error else checked
                else:
                    dags.append(ParsedDag(serialized, text, dag_hash, checked))
        state = self._detector.state(result.path)
        mtime = state.mtime_ns / 1e9 if state is not None else None
        if error:
            log.warning("import error in %s:\n%s", result.path, error)
        return FileUpdate(result.path, content_hash, mtime, result.duration, dags, error)

    def _write(self, batch: list[FileUpdate], report: ParseReport) -> set[str]:
        """Write ``batch``, :attr:`files_per_transaction` files a transaction (in order)."""
        freed: set[str] = set()
        step = self.files_per_transaction
        for start in range(0, len(batch), step):
            freed |= self._write_transaction(batch[start : start + step], report)
        return freed

    def _write_transaction(self, batch: list[FileUpdate], report: ParseReport) -> set[str]:
        """Write ``batch`` in one transaction; if the database refuses it (not a lost connection),
        write file by file so that only the file at fault fails (an import error naming it)."""
        try:
            return self._write_batch(batch, report)
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception:
            if len(batch) == 1 and not batch[0].dags:
                raise
            log.exception("writing a batch of %d parsed file(s) failed; writing them one by one", len(batch))
        freed: set[str] = set()
        for update in batch:
            try:
                freed |= self._write_batch([update], report)
            except TRANSIENT_DB_ERRORS:
                raise
            except Exception as exc:
                if not update.dags:
                    raise
                problem = f"{update.path}: its DAGs could not be stored: {type(exc).__name__}: {exc}"
                log.warning("import error in %s:\n%s", update.path, problem)
                error = f"{update.error}\n\n{problem}" if update.error else problem
                freed |= self._write_batch([dataclasses.replace(update, dags=[], error=error)], report)
        return freed

    def _write_batch(self, batch: list[FileUpdate], report: ParseReport) -> set[str]:
        assert self._detector is not None
        with begin_write(self.engine) as conn:
            written = self._writer.write_batch(conn, batch, self.clock.now())
        for update in batch:
            self._detector.mark_parsed(update.path, update.content_hash)
            self._defined[update.path] = written.defined[update.path]
        report.dags_written += written.dags_written
        report.deactivated += len(written.deactivated)
        report.failed += len(written.errors)
        report.import_errors.update(written.errors)
        return written.freed


def _observe(hook: Callable[[], None] | None) -> None:
    """Call an observer's hook; an observer never breaks what it observes."""
    if hook is None:
        return
    try:
        hook()
    except Exception:
        log.exception("observer of the DAG processor failed; parsing goes on")
