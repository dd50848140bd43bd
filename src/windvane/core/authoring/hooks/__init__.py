"""Hooks: the classes operators use to talk to outside systems through a Connection."""
