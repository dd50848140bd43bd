"""BashOperator: run a shell command with ``bash -c`` (Airflow's semantics).

Output (stdout and stderr, merged) is streamed line by line to the task log,
as one log record per line (not also printed raw: it would appear twice in
the log file, which holds the try's stdout too); the last line is the return value, pushed as the
``return_value`` XCom unless ``do_xcom_push=False``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Container, Mapping
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.core.authoring.xcom_arg import XComArg, resolve_xcom_args, set_xcom_arg_dependencies
from windvane.errors import DagDefinitionError, TaskCommandError, TaskSkipped

log = logging.getLogger("windvane.task")

#: Context entry -> environment variable every command sees (like Airflow's AIRFLOW_CTX_*).
CONTEXT_ENV_VARS = {
    "dag_id": "WINDVANE_CTX_DAG_ID",
    "task_id": "WINDVANE_CTX_TASK_ID",
    "run_id": "WINDVANE_CTX_RUN_ID",
    "try_number": "WINDVANE_CTX_TRY_NUMBER",
    "logical_date": "WINDVANE_CTX_LOGICAL_DATE",
    "dag_owner": "WINDVANE_CTX_DAG_OWNER",
}


#: ``skip_on_exit_code``'s default, as :func:`_exit_codes` returns it.
_DEFAULT_SKIP_CODES: list[int] = [99]


class BashOperator(BaseOperator):
    """Run ``bash_command`` in a fresh process group.

    :param bash_command: the command, or a path ending in ``.sh`` / ``.bash``
        whose (rendered) content is run (templated).
    :param env: the environment of the command. Without ``append_env`` it is
        the *whole* environment (not merged with the worker's); None means
        the worker's environment (templated).
    :param append_env: add ``env`` to the worker's environment instead.
    :param output_encoding: how the command's output is decoded.
    :param skip_on_exit_code: exit code(s) that end the task as *skipped*
        (default 99; None for none).
    :param cwd: working directory; default a fresh temporary directory (templated).

    The ``WINDVANE_CTX_*`` variables (DAG id, task id, run id, try number,
    logical date, owner) are always set.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("bash_command", "env", "cwd")
    template_ext: ClassVar[tuple[str, ...]] = (".sh", ".bash")
    ui_color: ClassVar[str] = "#f0ede4"
    # Defaults on the class (a task stores what it changes); the exit code list is made per task.
    env: Any = None
    append_env: bool = False
    output_encoding: str = "utf-8"
    skip_on_exit_code: PerInstance[Container[int]] = PerInstance(lambda: list(_DEFAULT_SKIP_CODES))
    cwd: Any = None
    _process: subprocess.Popen[bytes] | None = None

    def __init__(
        self,
        *,
        bash_command: str | XComArg,
        env: Mapping[str, str] | XComArg | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        self.bash_command: Any = (
            bash_command
            if isinstance(bash_command, XComArg)
            else (v.string(bash_command, "bash_command", owner))
        )
        keep(self, "env", env if env is None or isinstance(env, XComArg) else v.mapping(env, "env", owner))
        keep(self, "append_env", v.flag(append_env, "append_env", owner))
        keep(self, "output_encoding", v.string(output_encoding, "output_encoding", owner))
        codes = _exit_codes(skip_on_exit_code, owner)
        if codes != _DEFAULT_SKIP_CODES:  # the default list is made per task when first read
            self.skip_on_exit_code = codes
        keep(self, "cwd", v.opt_string(cwd, "cwd", owner))
        set_xcom_arg_dependencies(self, *(getattr(self, f, None) for f in self.template_fields))

    # -- running -------------------------------------------------------------
    def execute(self, context: dict[str, Any]) -> str:
        command = resolve_xcom_args(self.bash_command, context)
        cwd = resolve_xcom_args(self.cwd, context)
        if not isinstance(command, str) or not command.strip():
            raise TaskCommandError(
                f"task {self.task_id!r}: bash_command must be a non-empty string, got {command!r}"
            )
        if cwd is not None and not os.path.isdir(cwd):
            what = "is not a directory" if os.path.exists(cwd) else "does not exist"
            raise TaskCommandError(f"task {self.task_id!r}: cwd {cwd!r} {what}")
        exit_code, last_line = self._run(command, self.get_env(context), cwd)
        if exit_code in self.skip_on_exit_code:
            raise TaskSkipped(f"task {self.task_id!r}: bash command returned exit code {exit_code}; skipping")
        if exit_code != 0:
            raise TaskCommandError(
                f"task {self.task_id!r}: bash command failed with exit code {exit_code}", exit_code=exit_code
            )
        return last_line

    def get_env(self, context: dict[str, Any]) -> dict[str, str]:
        """The environment of the command (see the class doc)."""
        given = resolve_xcom_args(self.env, context)
        if given is None:
            env = dict(os.environ)
        elif self.append_env:
            env = {**os.environ, **given}
        else:
            env = dict(given)
        for key, value in env.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TaskCommandError(
                    f"task {self.task_id!r}: env values must be strings, got {key!r}={value!r}"
                )
        env.update(context_env(context, self))
        return env

    def _run(self, command: str, env: dict[str, str], cwd: str | None) -> tuple[int, str]:
        bash = shutil.which("bash") or "bash"
        last_line = ""
        with tempfile.TemporaryDirectory(prefix="windvanetmp") as tmp_dir:
            log.info("Running command: %s", [bash, "-c", command])
            self._process = subprocess.Popen(
                [bash, "-c", command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=cwd or tmp_dir,
                env=env,
                # Its own process group (on_kill signals it) but the try's session, so the
                # supervisor's sweep ends whatever the command leaves behind.
                process_group=0,
            )
            try:
                assert self._process.stdout is not None
                for raw in iter(self._process.stdout.readline, b""):
                    last_line = raw.decode(self.output_encoding, errors="backslashreplace").rstrip()
                    log.info("%s", last_line)
                exit_code = self._process.wait()
            except BaseException:
                self.on_kill()
                raise
            finally:
                if self._process.stdout is not None:
                    self._process.stdout.close()
        log.info("Command exited with return code %s", exit_code)
        return exit_code, last_line

    def on_kill(self) -> None:
        """Terminate the command's whole process group (SIGTERM)."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        log.info("Sending SIGTERM to process group of pid %s", process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(process.pid), signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def context_env(context: Mapping[str, Any], task: BaseOperator | None = None) -> dict[str, str]:
    """The ``WINDVANE_CTX_*`` variables for ``context`` (entries it lacks are left out)."""
    ti = context.get("ti")
    values: dict[str, Any] = {
        "dag_id": getattr(ti, "dag_id", None) or (task.dag.dag_id if task and task.dag else None),
        "task_id": getattr(ti, "task_id", None) or (task.task_id if task else None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "logical_date": context.get("logical_date"),
        "dag_owner": task.owner if task is not None else None,
    }
    env: dict[str, str] = {}
    for name, var in CONTEXT_ENV_VARS.items():
        value = values[name]
        if value is None:
            continue
        env[var] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return env


def _exit_codes(value: object, owner: str) -> list[int]:
    """``skip_on_exit_code`` as a list: None, an exit code or a collection of them (0..255)."""
    codes = [] if value is None else [value] if isinstance(value, int) else value
    if not (
        isinstance(codes, list | tuple | set | frozenset | range)
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in codes)
    ):
        raise DagDefinitionError(
            f"{owner}: skip_on_exit_code must be exit codes from 0 to 255, got {value!r}"
        )
    return list(codes)
