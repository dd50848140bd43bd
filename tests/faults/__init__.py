"""Regression tests of issue 12's reliability defects: each fails on the code before its fix."""
