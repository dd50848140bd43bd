"""The supervised fork: run a function in a forked child, frame its result over a pipe,
enforce a deadline, classify how the child ended.

Used by the DAG processor (one child per file) and the worker (one child per try).
May import: the standard library only. This ``__init__`` imports nothing on purpose.
"""
