"""What secrets masking costs a try: writing its output through the masker, and scrubbing its log.

Three cases per row: no secret registered (every try that reads no Connection or Variable: the
fast path), and 1 or ``--secrets`` secrets registered. Columns: microseconds per printed line
through :class:`~windvane.core.task_api.masking.MaskedStream` (to an in-memory stream), and
milliseconds to scrub a log file of ``--log-mib`` MiB when the try ends (:func:`scrub_log`).

    python bench/b_masking.py [--lines 100000] [--secrets 20] [--log-mib 8]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time

from _common import table

from windvane.core.task_api.masking import MaskedStream, masker
from windvane.core.worker.task_log import scrub_log

LINE = "[2024-01-01 00:00:00,000] INFO windvane.task: processed batch 123 of 456 rows into the warehouse\n"


def per_line_us(lines: int) -> float:
    stream = MaskedStream(io.StringIO())
    start = time.perf_counter()
    for _ in range(lines):
        stream.write(LINE)
    stream.flush()
    return (time.perf_counter() - start) / lines * 1e6


def scrub_ms(log_mib: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "attempt=1.log")
        with open(path, "w") as handle:
            handle.write(LINE * (log_mib * (1 << 20) // len(LINE)))
        start = time.perf_counter()
        scrub_log(path)
        return (time.perf_counter() - start) * 1e3


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--secrets", type=int, default=20)
    parser.add_argument("--log-mib", type=int, default=8)
    args = parser.parse_args()
    rows = []
    for count in (0, 1, args.secrets):
        masker().clear()
        for i in range(count):
            masker().add(f"secret-value-{i:04d}-xyz")
        rows.append([count, per_line_us(args.lines), scrub_ms(args.log_mib)])
    masker().clear()
    print(table("secrets masking", ["secrets", "us/line", f"scrub {args.log_mib} MiB (ms)"], rows))


if __name__ == "__main__":
    main()
