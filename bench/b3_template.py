"""B3's parse template alone: CPU and page faults per file of the template and of its children.

Sets this process up exactly as the parse template sets itself up (``template.set_up``: imports,
warm-up, frozen heap, containment), then forks one child per B3 file, ``--parallelism`` at once, as the
template does for the processor (no processor, no database), ``--rounds`` times over the same files.
Each round prints the template's CPU and minor faults per file (this process) and its children's
(reaped), from ``getrusage``. Steadier than B3's cold pass on a busy machine: run two revisions *at the
same time* (they then share the load) and compare the columns.

    .venv/bin/python bench/b3_template.py [--files 300] [--tasks 10] [--rounds 2] [--parallelism 2]
        [--fork os|lean]
    PYTHONPATH=/path/to/old/src .venv/bin/python bench/b3_template.py   # another revision

``--fork os`` makes a revision that has the lean fork use ``os.fork()`` instead (default: what the
template uses).
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from b3_parse import generate

from windvane.core.authoring.defaults import AuthoringDefaults
from windvane.core.forking.child import redirect_stdio
from windvane.core.processor import template
from windvane.core.processor.pool import run_parsers
from windvane.core.processor.template_wire import TemplateSetup


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--fork", choices=("os", "lean"), default="lean")
    args = parser.parse_args()
    options = {}
    if "lean_fork" in inspect.signature(run_parsers).parameters:
        options["lean_fork"] = args.fork == "lean"
    with tempfile.TemporaryDirectory(prefix="wv_b3t_") as tmp:
        folder = Path(tmp)
        generate(folder, args.files, args.tasks)
        paths = sorted(str(p) for p in folder.rglob("*.py"))
        setup = TemplateSetup(sys_path=tuple(sys.path), cwd=os.getcwd(), authoring=AuthoringDefaults(),
                              containment="auto")  # fmt: skip
        template.set_up(setup)
        report = os.fdopen(os.dup(1), "w")  # this process's stdout; the children's goes nowhere
        redirect_stdio(os.devnull)
        print(f"{'round':>5} {'files':>6} {'wall s':>7} {'templ ms':>9} {'templ flt':>9} "
              f"{'kids ms':>8} {'kids flt':>8} {'errors':>6}  fork", file=report, flush=True)  # fmt: skip
        for number in range(1, args.rounds + 1):
            me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            results = list(run_parsers(paths, parallelism=args.parallelism, timeout=30.0,
                                       stdio_inherited=True, **options))  # fmt: skip
            wall = time.perf_counter() - started
            me2, kids2 = (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
            n = len(results)
            errors = sum(1 for r in results if r.payload is None or b'"error": null' not in r.payload)
            cpu = (me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime) / n * 1000
            kid_cpu = (kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime) / n * 1000
            fork = args.fork if options else "os (no lean fork here)"
            print(f"{number:>5} {n:>6} {wall:>7.2f} {cpu:>9.2f} {(me2.ru_minflt - me.ru_minflt) / n:>9.0f} "
                  f"{kid_cpu:>8.2f} {(kids2.ru_minflt - kids.ru_minflt) / n:>8.0f} {errors:>6}  {fork}",
                  file=report, flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
