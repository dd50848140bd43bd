"""``windvane``: the entry point (``windvane = "windvane.cli.main:main"``).

:func:`main` parses the command line, reads the settings once (``--home``
overrides ``WINDVANE_HOME``), sets the authoring defaults, and runs the
command's handler. Exit codes: 0 success, 1 an operational failure (a
:class:`~windvane.errors.WindvaneError`, e.g. an unknown DAG), 2 a usage
error (bad arguments), 130 interrupted, 141 stdout closed early (``windvane
dags list | head``: quietly, like a Unix tool killed by SIGPIPE). Errors are
one line on stderr; ``--verbose`` adds the traceback.

Only the parser (:mod:`windvane.cli.parser`) is imported up front; the
settings, the output and the command's handler are imported after the
command line was parsed, so ``--version`` and ``--help`` stay fast. Commands
that may run user code (the default) get the authoring defaults, the
``[smtp]`` server and the secrets backends installed first; commands
registered with ``user_code=False`` (the listings: ``dags list`` ...) skip that
set-up and its imports (pendulum, the executors, Fernet).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import TYPE_CHECKING

from windvane.cli.base import EXIT_FAILURE, EXIT_USAGE, Cli, Handler, UsageError, resolve_handler
from windvane.cli.parser import build_parser
from windvane.errors import WindvaneError

if TYPE_CHECKING:
    from windvane.cli.output import Output

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_INTERRUPTED", "build_parser", "main"]

EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE: what a shell reports for ``ls | head``'s ``ls``, so ``set -o pipefail`` sees the same.
EXIT_BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    """Run ``windvane`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
    except BrokenPipeError:
        return _stdout_closed()
    return code


def _stdout_closed() -> int:
    """The reader of stdout went away (``| head``): stop quietly, as Python's docs recommend."""
    # Point stdout at /dev/null so the interpreter's final flush does not fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def _main(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    from windvane.cli.output import Output
    from windvane.settings import load_settings, parse_umask

    out = Output()
    verbose = bool(args.verbose)
    umask: int | None = None
    try:
        settings = load_settings(home=args.home)
        mask = parse_umask(settings.core.umask)
        assert mask is not None, "core.umask is checked when settings are loaded"
        umask = os.umask(mask)  # before anything creates a file; undone below
        handler = resolve_handler(args.handler)
        cli = Cli(settings=settings, out=out, verbose=verbose)
        if not args.user_code:  # a listing: nothing to prepare for DAG files or tasks
            code: int = handler(cli, args)
            return code
        return _run_user_code_command(cli, handler, args)
    except UsageError as exc:
        out.note(f"{_prog(args)}: error: {exc} (see '{_prog(args)} --help')")
        return EXIT_USAGE
    except WindvaneError as exc:
        _report(out, exc, verbose)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        out.error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # stdout closed early: main() ends quietly
    except Exception as exc:  # a bug or an unexpected failure (database down): still no bare traceback
        _report(out, exc, verbose, unexpected=True)
        return EXIT_FAILURE
    finally:
        if umask is not None:  # main() may run in-process (tests, embedding): leave it as it was
            os.umask(umask)


def _run_user_code_command(cli: Cli, handler: Handler, args: argparse.Namespace) -> int:
    """Run a command that may import DAG files or run tasks in this process (``dags test``,
    ``tasks run``, the DAG processor's children ...): the authoring defaults, the ``[smtp]`` server
    and the secrets backends are set up first, and the secrets resolver is put back after."""
    from windvane.cli.wiring import apply_authoring_defaults, install_task_settings, secrets_config
    from windvane.core.forking.containment import install as install_containment
    from windvane.core.task_api import secrets
    from windvane.core.worker.secrets_setup import install_secrets

    apply_authoring_defaults(cli.settings)
    install_task_settings(cli.settings)
    # Detected once here (a 'cgroup' that cannot be had fails now, naming the key); the
    # processes that only supervise children install it again, adopting orphans.
    install_containment(cli.settings.core.process_containment)
    resolver = secrets.installed_resolver()
    try:
        install_secrets(secrets_config(cli.settings, os.environ))
    except WindvaneError as exc:  # a bad [secrets] setting must not stop `config list`
        cli.out.note(f"windvane: warning: Connections and Variables are not available: {exc}")
    try:
        code: int = handler(cli, args)
    finally:  # main() may run in-process (tests, embedding): leave it as it was
        secrets.install_resolver(resolver)
    return code


def _prog(args: argparse.Namespace) -> str:
    """``windvane dags trigger``: the command that was run, as argparse names it."""
    words = ["windvane", args.command]
    sub = getattr(args, f"{args.command}_command", None)
    return " ".join([*words, sub] if sub else words)


def _report(out: Output, exc: BaseException, verbose: bool, *, unexpected: bool = False) -> None:
    if verbose:
        traceback.print_exception(exc, file=out.stderr)
    text = str(exc).strip() or type(exc).__name__
    if unexpected:
        first = text.splitlines()[0]
        hint = "" if verbose else " (run with --verbose for the traceback)"
        out.error(f"unexpected {type(exc).__name__}: {first}{hint}")
    else:
        out.error(text)


if __name__ == "__main__":
    sys.exit(main())
