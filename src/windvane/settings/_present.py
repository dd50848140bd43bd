"""Looking up one value, and rendering ``docs/configuration.md``."""

from __future__ import annotations

from pathlib import Path

from windvane.errors import ConfigError
from windvane.settings._format import format_value
from windvane.settings._schema import ENV_PREFIX, KeySpec, schema
from windvane.settings._sections import Settings

REGENERATE_COMMAND = "python -m windvane.settings > docs/configuration.md"


def get_value(settings: Settings, dotted_key: str) -> object:
    """The typed value of ``"section.key"`` (unmasked; use ``as_rows`` to display).

    Raises :class:`~windvane.errors.ConfigError` for an unknown key, with a
    suggestion when one is close.
    """
    section, _, key = dotted_key.partition(".")
    spec = schema().find(section, key)
    if spec is None:
        hint = schema().suggest(section if key else None, key or section)
        suffix = f"; did you mean {hint!r}?" if hint else ""
        raise ConfigError(f"unknown config key {dotted_key!r}{suffix}")
    return getattr(getattr(settings, section), key)


def allowed_values(section: str, key: str) -> str:
    """What ``section.key`` accepts, kind and range as in the docs (``"an integer between 1 and 10"``)."""
    spec = schema().find(section, key)
    return spec.expected if spec is not None else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(spec: KeySpec) -> str:
    default = format_value(spec.resolve(spec.parse(spec.default), Path("$WINDVANE_HOME")))
    kind = spec.expected.removeprefix("an ").removeprefix("a ")
    cells = (
        f"`{spec.name}`",
        kind,
        f"`{default}`" if default else "*(empty)*",
        f"`{spec.env_var}`",
        spec.help,
    )
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


_INTRO = f"""\
# Configuration

<!-- Generated from src/windvane/settings; do not edit. Regenerate with:
     {REGENERATE_COMMAND} -->

Windvane reads its configuration once, when a command starts. Each value comes
from the first of these that sets it:

1. overrides given on the command line;
2. an environment variable `{ENV_PREFIX}<SECTION>__<KEY>`, e.g. `{ENV_PREFIX}CORE__PARALLELISM=64`;
3. `$WINDVANE_HOME/windvane.toml` (`WINDVANE_HOME` defaults to `~/windvane`), one table per section;
4. the defaults below.

```toml
[core]
parallelism = 64

[database]
sql_alchemy_conn = "postgresql+psycopg://windvane:secret@db.internal/windvane"
```

An unknown section or key, in the file or in a `{ENV_PREFIX}` variable, is an
error that names it and suggests the closest known key. In environment
variables, booleans are `true`/`false`, `1`/`0` or `yes`/`no` (any case), lists
are comma-separated and durations are seconds (decimals allowed). Relative paths,
and the file of a relative `sqlite:///` URL, are relative to `$WINDVANE_HOME`.

`windvane config list` shows every value and where it came from (`default`,
`file`, `env` or `override`). It masks keys named like `*password*`, `*secret*`
or `*token*`, and the password in URLs such as `sql_alchemy_conn`.
"""


def render_config_docs() -> str:
    """Render ``docs/configuration.md`` from the section dataclasses."""
    known = schema()
    parts = [_INTRO]
    for section, specs in known.keys.items():
        doc = (known.section_types[section].__doc__ or "").strip().splitlines()[0]
        parts.append(f"\n## `[{section}]`\n\n{doc}\n\n")
        parts.append("| Key | Type | Default | Environment variable | Meaning |\n")
        parts.append("| --- | --- | --- | --- | --- |\n")
        parts.extend(_row(spec) + "\n" for spec in specs.values())
    return "".join(parts)
