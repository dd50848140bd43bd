"""The lean fork: libc's fork without CPython's after-fork hooks, only with one thread.

Each case runs in a fresh interpreter (the test runner may have threads of its own, and a lean
fork only happens in a process with exactly one).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libc fork is used on Linux")

#: Forks two children with lean_fork; each reports (hook ran?, its random draw, its pid) on a pipe.
PROGRAM = """
import os, random, sys, threading
from windvane.core.forking.lean_fork import lean_fork, single_threaded

hooked = []
os.register_at_fork(after_in_child=lambda: hooked.append(1))
if sys.argv[1] == "threaded":
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
print("single", single_threaded())
random.seed(1)
read, write = os.pipe()
pids = []
for _ in range(2):
    pid = lean_fork()
    if pid == 0:
        os.write(write, f"{bool(hooked)} {random.random()!r} {os.getpid()}\\n".encode())
        os._exit(0)
    pids.append(pid)
for pid in pids:
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
os.close(write)
with os.fdopen(read) as reports:
    print(reports.read(), end="")
print("parent", random.random() == random.Random(1).random(), sorted(pids))
"""


def run(mode: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROGRAM), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def test_with_one_thread_no_at_fork_hook_runs_and_each_child_draws_its_own_numbers() -> None:
    lines = run("single")
    assert lines[0] == "single True"
    children = [line.split() for line in lines[1:3]]
    assert [hooked for hooked, _, _ in children] == ["False", "False"]
    draws = {draw for _, draw, _ in children}
    assert len(draws) == 2  # reseeded in each child, as os.fork's own hook would
    parent, same_sequence, *_ = lines[3].split(" ", 2)
    assert parent == "parent" and same_sequence == "True"  # the parent's generator is untouched
    reported_pids = sorted(int(pid) for _, _, pid in children)
    assert lines[3].endswith(str(reported_pids))  # getpid() in a child is the child's own


def test_with_another_thread_it_is_os_fork_and_the_hooks_run() -> None:
    lines = run("threaded")
    assert lines[0] == "single False"
    assert [line.split()[0] for line in lines[1:3]] == ["True", "True"]


SIGNALED_AT_THE_FORK = """
import os, signal, sys
from windvane.core.forking import lean_fork as module

handled = []
signal.signal(signal.SIGUSR1, lambda signum, frame: handled.append(os.getpid()))
real = module._c_fork

def fork_while_signaled():
    os.kill(os.getpid(), signal.SIGUSR1)  # caught at the fork itself
    return real()

module._c_fork = fork_while_signaled
read, write = os.pipe()
pid = module.lean_fork()
if pid == 0:
    os.write(write, repr(handled).encode())
    os._exit(0)
os.waitpid(pid, 0)
os.close(write)
with os.fdopen(read) as report:
    print(report.read(), handled == [os.getpid()])
"""


def test_a_signal_caught_at_the_fork_is_handled_by_the_parent_only() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SIGNALED_AT_THE_FORK)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["[]", "True"]
