"""Windvane: a workflow orchestrator you can see and trust."""

from __future__ import annotations

__version__ = "0.1.0"
