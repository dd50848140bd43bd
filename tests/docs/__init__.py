"""The docs harness: every shell block of README.md and docs/*.md runs, and the output it shows is checked."""
