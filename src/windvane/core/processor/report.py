"""What one pass of the DAG processor did."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ParseReport:
    """Counts and timings of one :meth:`DagProcessor.run_once`.

    ``files_seen`` counts the ``*.py`` files listed (after ignore rules);
    ``skipped_not_dag`` those safe mode rejected; ``skipped_unchanged`` the
    DAG files whose content had not changed; ``parsed`` the files a child
    was started for. ``failed`` counts parsed files left with an import
    error (timeouts and crashes included, also counted apart).
    ``durations`` holds seconds per parsed file; ``total_parse_time`` the
    wall time of the whole pass. ``dag_files`` lists every DAG file of the
    folder this pass (parsed or not), so observers can forget the others.
    """

    files_seen: int = 0
    skipped_not_dag: int = 0
    skipped_unchanged: int = 0
    parsed: int = 0
    failed: int = 0
    timed_out: int = 0
    crashed: int = 0
    dags_written: int = 0
    deactivated: int = 0
    durations: dict[str, float] = field(default_factory=dict)
    dag_files: list[str] = field(default_factory=list)
    import_errors: dict[str, str] = field(default_factory=dict)
    total_parse_time: float = 0.0
    #: Parse templates found dead (killed, crashed, silent) this pass: each is replaced.
    template_restarts: int = 0

    def summary(self) -> str:
        """One line for the processor log."""
        return (
            f"{self.files_seen} files: {self.parsed} parsed, {self.skipped_unchanged} unchanged, "
            f"{self.skipped_not_dag} not DAG files, {self.failed} failed ({self.timed_out} timed out, "
            f"{self.crashed} crashed); {self.dags_written} DAGs written, {self.deactivated} deactivated "
            f"in {self.total_parse_time:.2f} s"
        )
