"""Finding Debian's Prometheus tools: skipped locally when missing, a failure when ``CI=true``."""

from __future__ import annotations

import shutil

from windvane.testing.fixtures import postgres_unavailable as _unavailable  # skip, or fail in CI

#: Binary -> the Debian package that ships it (.ci/run installs them).
PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
}


def require(binary: str) -> str:
    """The path of ``binary``; skips the test (fails it in CI) when it is not installed."""
    path = shutil.which(binary)
    if path is None:
        _unavailable(f"{binary} is not installed (apt-get install {PACKAGES.get(binary, binary)})")
    return path
