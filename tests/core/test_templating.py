from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import jinja2
import pendulum
import pytest
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from windvane.core.task_api.macros import ds_add, ds_format, macros_namespace
from windvane.core.task_api.templating import (
    ConnectionAccessor,
    VariableAccessor,
    make_jinja_env,
    render_template_fields,
    render_value,
)
from windvane.errors import NotFoundError, SerializationError, StoreError, TemplateRenderError

OWNER = "task 'load' in DAG 'etl'"


class Pair(NamedTuple):
    left: Any
    right: Any


@pytest.fixture
def env() -> SandboxedEnvironment:
    return make_jinja_env()


def render(text: str, env: jinja2.Environment | None = None, **context: Any) -> Any:
    return render_value(text, context, env or make_jinja_env())


# -- filters and macros -------------------------------------------------------


def test_date_filters_format_like_airflow() -> None:
    when = pendulum.datetime(2024, 3, 9, 7, 5, 3)
    out = render(
        "{{ d | ds }} {{ d | ds_nodash }} {{ d | ts }} {{ d | ts_nodash }} {{ d | ts_nodash_with_tz }}",
        d=when,
    )
    assert out == "2024-03-09 20240309 2024-03-09T07:05:03+00:00 20240309T070503 20240309T070503+0000"


def test_ts_nodash_with_tz_keeps_fraction_and_negative_offset_sign() -> None:
    when = datetime(2024, 3, 9, 7, 5, 3, 120000, tzinfo=timezone(timedelta(hours=-5)))
    assert render("{{ d | ts_nodash_with_tz }}", d=when) == "20240309T070503.120000-0500"


def test_ds_add_and_ds_format() -> None:
    assert ds_add("2015-01-01", 5) == "2015-01-06"
    assert ds_add("2015-01-06", -5) == "2015-01-01"
    assert ds_add("2024-02-28", 0) == "2024-02-28"
    assert ds_format("2015-01-01", "%Y-%m-%d", "%m-%d-%y") == "01-01-15"
    with pytest.raises(ValueError, match="does not match format"):
        ds_add("01/01/2015", 1)


def test_macros_in_templates(env: SandboxedEnvironment) -> None:
    context = {"ds": "2024-01-31", "macros": macros_namespace()}
    template = (
        "{{ macros.ds_add(ds, 1) }}|{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m') }}|"
        "{{ (macros.datetime(2024, 1, 1) + macros.timedelta(days=2)).day }}|"
        "{{ macros.uuid.uuid4() | string | length }}|{{ macros.random() < 1 }}|"
        "{{ macros.json.dumps({'a': 1}) }}|{{ macros.time.time() > 0 }}"
    )
    assert render_value(template, context, env) == '2024-02-01|31/01|3|36|True|{"a": 1}|True'


def test_macros_namespace_is_fresh_each_time() -> None:
    first = macros_namespace()
    first.ds_add = None
    assert macros_namespace().ds_add is ds_add


# -- environment --------------------------------------------------------------


def test_env_is_sandboxed_and_strict(env: SandboxedEnvironment) -> None:
    assert isinstance(env, SandboxedEnvironment)
    with pytest.raises(jinja2.UndefinedError, match="'typo' is undefined"):
        render("{{ typo }}", env)


def test_lenient_env_renders_undefined_as_empty() -> None:
    assert render("[{{ typo }}]", make_jinja_env(undefined_strict=False)) == "[]"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__init__.__globals__ }}",
        "{{ macros.json.codecs.open }}",
        "{{ macros.uuid.os.system }}",
        "{{ macros.ds_add.__globals__ }}",
        "{{ var.value._getter }}",
    ],
)
def test_sandbox_blocks_escapes(env: SandboxedEnvironment, template: str) -> None:
    context = {"x": SimpleNamespace(), "macros": macros_namespace(), "var": VariableAccessor(lambda k: None)}
    task = SimpleNamespace(cmd=template)
    with pytest.raises(
        TemplateRenderError, match=r"task 'load' in DAG 'etl': cannot render template field 'cmd'"
    ) as info:
        render_template_fields(task, ["cmd"], context, env, owner=OWNER)
    # Unsafe attributes raise SecurityError; curated namespaces simply lack the module internals.
    assert isinstance(info.value.__cause__, SecurityError | jinja2.UndefinedError)
    assert task.cmd == template


def test_trailing_newline_is_kept(env: SandboxedEnvironment) -> None:
    assert render("echo {{ n }}\n", env, n=1) == "echo 1\n"


# -- render_value -------------------------------------------------------------


def test_nested_structures_render_recursively_keys_untouched(env: SandboxedEnvironment) -> None:
    marker = object()
    value = {
        "{{ k }}": ["{{ x }}", ("{{ x }}-t", 5), {"{{ x }}-s"}, frozenset({"{{ x }}-f"})],
        "pair": Pair("{{ x }}", None),
        "obj": marker,
    }
    out = render_value(value, {"x": "A", "k": "K"}, env)
    assert out == {
        "{{ k }}": ["A", ("A-t", 5), {"A-s"}, frozenset({"A-f"})],
        "pair": Pair("A", None),
        "obj": marker,
    }
    assert type(out["pair"]) is Pair
    assert type(out["{{ k }}"][3]) is frozenset
    assert out["obj"] is marker


@pytest.mark.parametrize("value", [None, 3, 2.5, True, b"{{ x }}"])
def test_other_objects_are_returned_unchanged(env: SandboxedEnvironment, value: Any) -> None:
    assert render_value(value, {"x": 1}, env) is value


def test_template_ext_loads_files_from_searchpath(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "load.sql").write_text("INSERT INTO t SELECT '{{ ds }}';\n")
    (tmp_path / "run.sh").write_text("echo {{ ds }}\n")
    env = make_jinja_env(searchpath=[str(tmp_path)])
    context = {"ds": "2024-01-01"}
    exts = (".sh", ".sql")
    assert render_value("run.sh", context, env, template_ext=exts) == "echo 2024-01-01\n"
    assert render_value(["sql/load.sql"], context, env, template_ext=exts) == [
        "INSERT INTO t SELECT '2024-01-01';\n"
    ]
    # As in Airflow, a trailing space keeps a string that ends like a file from being loaded.
    assert render_value("bash run.sh {{ ds }} ", context, env, template_ext=exts) == "bash run.sh 2024-01-01 "
    assert render_value("run.sh", context, env) == "run.sh"


def test_template_file_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.sql").write_text("SELECT 1;\n{% if %}\n")
    env = make_jinja_env(searchpath=[str(tmp_path)])
    task = SimpleNamespace(sql="missing.sql")
    with pytest.raises(TemplateRenderError, match=r"field 'sql': 'missing.sql' not found in search path: '/"):
        render_template_fields(task, ["sql"], {}, env, template_ext=[".sql"], owner=OWNER)
    task = SimpleNamespace(sql="bad.sql")
    with pytest.raises(TemplateRenderError, match=r"field 'sql': syntax error in 'bad.sql' at line 2: "):
        render_template_fields(task, ["sql"], {}, env, template_ext=[".sql"], owner=OWNER)


def test_template_file_without_searchpath(env: SandboxedEnvironment) -> None:
    task = SimpleNamespace(sql="load.sql")
    with pytest.raises(TemplateRenderError, match=r"template file 'load\.sql': no searchpath is configured"):
        render_template_fields(task, ["sql"], {}, env, template_ext=[".sql"], owner=OWNER)


# -- render_template_fields ---------------------------------------------------


def test_render_template_fields_sets_attributes(env: SandboxedEnvironment) -> None:
    task = SimpleNamespace(cmd="echo {{ ds }}", env={"DAY": "{{ ds }}"}, retries="{{ ds }}")
    render_template_fields(task, ["cmd", "env"], {"ds": "2024-01-01"}, env, owner=OWNER)
    assert (task.cmd, task.env, task.retries) == ("echo 2024-01-01", {"DAY": "2024-01-01"}, "{{ ds }}")


def test_undefined_names_owner_field_and_jinja_message(env: SandboxedEnvironment) -> None:
    task = SimpleNamespace(cmd="echo {{ ds }}", sql="SELECT {{ typo }}")
    with pytest.raises(TemplateRenderError) as info:
        render_template_fields(task, ["cmd", "sql"], {"ds": "2024-01-01"}, env, owner=OWNER)
    assert (
        str(info.value) == "task 'load' in DAG 'etl': cannot render template field 'sql': 'typo' is undefined"
    )
    assert isinstance(info.value.__cause__, jinja2.UndefinedError)
    assert task.cmd == "echo {{ ds }}", "no field is set when one fails"


def test_errors_raised_by_called_code_are_wrapped(env: SandboxedEnvironment) -> None:
    task = SimpleNamespace(cmd="{{ macros.ds_add('nope', 1) }}")
    with pytest.raises(TemplateRenderError, match=r"field 'cmd': ValueError: time data 'nope'"):
        render_template_fields(task, ["cmd"], {"macros": macros_namespace()}, env, owner=OWNER)


def test_missing_template_field_attribute(env: SandboxedEnvironment) -> None:
    with pytest.raises(TemplateRenderError, match="lists template field 'nope' but has no such attribute"):
        render_template_fields(SimpleNamespace(), ["nope"], {}, env, owner=OWNER)


# -- var and conn -------------------------------------------------------------

VARIABLES = {"bucket": "s3://data", "cfg": json.dumps({"db": {"host": "pg"}, "n": 3}), "get": "x", "bad": "{"}


def test_var_accessor_reads_text_and_json(env: SandboxedEnvironment) -> None:
    var = VariableAccessor(VARIABLES.get)
    template = (
        "{{ var.value.bucket }} {{ var.json.cfg.db.host }} {{ var.json.cfg['n'] + 1 }} {{ var.value['get'] }}"
    )
    assert render(template, env, var=var) == "s3://data pg 4 x"
    assert (
        render("{{ var.value.get('nope', 'dflt') }} {{ var.json.get('nope', 7) }}", env, var=var) == "dflt 7"
    )
    assert var.value.bucket == "s3://data"
    assert var.json.cfg == {"db": {"host": "pg"}, "n": 3}


@pytest.mark.parametrize(
    "template", ["{{ var.value.nope }}", "{{ var.json['nope'] }}", "{{ var.value.get('nope') }}"]
)
def test_missing_variable_names_the_key(env: SandboxedEnvironment, template: str) -> None:
    task = SimpleNamespace(cmd=template)
    context = {"var": VariableAccessor(VARIABLES.get)}
    with pytest.raises(TemplateRenderError, match="field 'cmd': variable 'nope' does not exist") as info:
        render_template_fields(task, ["cmd"], context, env, owner=OWNER)
    assert isinstance(info.value.__cause__, NotFoundError)
    assert isinstance(info.value.__cause__, LookupError)


def test_variable_that_is_not_json() -> None:
    with pytest.raises(SerializationError, match="variable 'bad' is not valid JSON"):
        VariableAccessor(VARIABLES.get).json.bad  # noqa: B018


def test_variables_not_configured_by_default(env: SandboxedEnvironment) -> None:
    with pytest.raises(StoreError, match="cannot read variable 'k': variables are not configured"):
        VariableAccessor().value.k  # noqa: B018
    with pytest.raises(TemplateRenderError, match="variables are not configured"):
        render_template_fields(
            SimpleNamespace(f="{{ var.value.k }}"), ["f"], {"var": VariableAccessor()}, env, owner=OWNER
        )


def test_conn_accessor(env: SandboxedEnvironment) -> None:
    conns = {"pg": {"host": "db.local", "port": 5432, "login": "etl", "extra": {"sslmode": "require"}}}
    conn = ConnectionAccessor(conns.get)
    template = "{{ conn.pg.host }}:{{ conn.pg.port }} {{ conn['pg'].login }} {{ conn.pg.extra.sslmode }}"
    assert render(template, env, conn=conn) == "db.local:5432 etl require"
    assert conn.pg.host == "db.local"
    with pytest.raises(NotFoundError, match="connection 'nope' does not exist"):
        conn.nope  # noqa: B018
    with pytest.raises(
        NotFoundError, match=r"connection 'pg' has no field 'hots' \(its fields: extra, host, login"
    ):
        render("{{ conn.pg.hots }}", env, conn=conn)
    with pytest.raises(StoreError, match="cannot read connection 'pg': connections are not configured"):
        ConnectionAccessor().pg  # noqa: B018


def test_rendering_datetimes_from_context(env: SandboxedEnvironment) -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert render("{{ when.year }}-{{ when | ds_nodash }}", env, when=when) == "2024-20240101"
