"""``windvane jobs check | info | completion``: operations commands' arguments (handlers in
:mod:`windvane.cli.jobs`, :mod:`~windvane.cli.info` and :mod:`~windvane.cli.completion`)."""

from __future__ import annotations

from windvane.cli.args import positive_int
from windvane.cli.base import Subparsers, add_command, add_group, add_output_option

#: ``--job-type`` -> the ``job.job_type`` the process records.
JOB_TYPES = {"scheduler": "scheduler", "dag-processor": "dag_processor"}
SHELLS = ("bash", "zsh", "fish")

_CHECK = """\
A liveness probe (Airflow's 'jobs check'): exit 0 when a running job of the
type (a scheduler by default) recorded a heartbeat within
scheduler.health_check_threshold_seconds, 1 otherwise, with one line saying
what was found. --hostname or --local keep only the jobs of one host (for a
probe on the scheduler's own machine or pod). More than one alive job is an
error unless --allow-multiple is given.

  windvane jobs check --job-type scheduler --local     # a Kubernetes livenessProbe
  windvane jobs check --job-type dag-processor --allow-multiple --limit 10"""

_COMPLETION = """\
Print a shell completion script for windvane: commands, options and their
choices. Load it in the current shell or install it:

  source <(windvane completion bash)                      # bash, now
  windvane completion bash > ~/.local/share/bash-completion/completions/windvane
  windvane completion zsh > "${fpath[1]}/_windvane"        # zsh
  windvane completion fish > ~/.config/fish/completions/windvane.fish

The script is generated from this parser, so it lists exactly the commands of
this version; regenerate it after an upgrade."""


def register(commands: Subparsers) -> None:
    jobs = add_group(commands, "jobs", "Check the liveness of the scheduler and the DAG processor.")
    check = add_command(
        jobs,
        "check",
        "windvane.cli.jobs:check",
        "Exit 0 when a matching job heartbeats, 1 otherwise.",
        _CHECK,
    )
    check.add_argument(
        "--job-type",
        choices=tuple(JOB_TYPES),
        default="scheduler",
        help="Which process to look for (default scheduler).",
    )
    where = check.add_mutually_exclusive_group()
    where.add_argument("--hostname", help="Only jobs running on this host (as the job recorded it).")
    where.add_argument("--local", action="store_true", help="Only jobs running on this host (its FQDN).")
    check.add_argument(
        "--limit",
        type=positive_int,
        default=1,
        metavar="N",
        help="Look at the N most recently heartbeating jobs (default 1; raise it with --allow-multiple).",
    )
    check.add_argument(
        "--allow-multiple", action="store_true", help="Succeed with more than one alive job too."
    )

    info = add_command(
        commands,
        "info",
        "windvane.cli.info:info",
        "Show versions, paths, the database (password hidden), the executor and where settings come from.",
    )
    add_output_option(info)

    completion = add_command(
        commands,
        "completion",
        "windvane.cli.completion:completion",
        "Print a shell completion script (bash, zsh or fish).",
        _COMPLETION,
    )
    completion.add_argument("shell", choices=SHELLS, help="The shell.")
