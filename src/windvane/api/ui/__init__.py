"""The browser UI: a small HTML shell and the static files vite builds from ``ui/`` (committed
under ``static/``, so installing Windvane needs no Node). May import only :mod:`windvane.api`
siblings and Starlette; it reads nothing but its own files.

The pages are one script with hash routes (``/ui/#/dags``); every byte of data comes from the
REST API under ``/api/v1`` with the browser's session cookie.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from windvane import __version__

STATIC = Path(__file__).parent / "static"
#: Only this origin's scripts, styles and fetches; no inline script, no framing.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def mount_ui(app: FastAPI) -> None:
    """Serve the UI at ``/ui/`` (``/`` redirects there) and its files at ``/ui/static``."""
    # The built files keep fixed names (reproducible builds); a version query makes a browser fetch
    # them afresh after an upgrade instead of running a cached script against a newer API.
    shell = (STATIC / "index.html").read_text(encoding="utf-8")
    for asset in ("assets/app.js", "assets/index.css"):
        shell = shell.replace(f"/ui/static/{asset}", f"/ui/static/{asset}?v={__version__}")
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/ui/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(shell, headers=headers)

    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
