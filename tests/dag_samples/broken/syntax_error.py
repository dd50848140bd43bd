"""Broken: a syntax error."""

from windvane import DAG

with DAG("syntax_error", schedule=None) as dag
    pass
