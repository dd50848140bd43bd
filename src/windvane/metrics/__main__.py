"""Write (or check) ``docs/metrics.md`` and ``compose/statsd-mapping.yml`` from the catalogue.

python -m windvane.metrics                 # write both, under the current directory
python -m windvane.metrics --check         # exit 1 naming the files that are stale
python -m windvane.metrics --root DIR      # the repository root to write under
python -m windvane.metrics --mapping-prefix P   # print a mapping for statsd_prefix P
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from windvane.metrics.docs import render_docs
from windvane.metrics.mapping import render_mapping

#: Generated file (relative to the repository root) -> its renderer.
GENERATED: dict[str, Callable[[], str]] = {
    "docs/metrics.md": render_docs,
    "compose/statsd-mapping.yml": render_mapping,
}
REGENERATE = "python -m windvane.metrics (from the repository root)"


def stale(root: Path) -> list[str]:
    """The generated files under ``root`` whose content differs from what the catalogue gives."""
    out = []
    for rel, render in GENERATED.items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != render():
            out.append(rel)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m windvane.metrics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--mapping-prefix")
    args = parser.parse_args(argv)
    if args.mapping_prefix is not None:
        sys.stdout.write(render_mapping(args.mapping_prefix))
        return 0
    if args.check:
        found = stale(args.root)
        for rel in found:
            print(f"{rel} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if found else 0
    for rel, render in GENERATED.items():
        path = args.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
