"""``python -m windvane.settings > docs/configuration.md`` regenerates the config docs."""

from __future__ import annotations

import sys

from windvane.settings import render_config_docs

if __name__ == "__main__":
    sys.stdout.write(render_config_docs())
