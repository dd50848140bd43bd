"""The executor registry: built-ins, registered factories, plug-ins' entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from windvane.core.executors import (
    Executor,
    ExecutorOptions,
    ExecutorRegistry,
    create_executor,
    executor_names,
)
from windvane.core.executors.sequential import SequentialExecutor
from windvane.errors import ConfigError, PluginError
from windvane.plugins import EXECUTORS_GROUP
from windvane.testing import HoldingExecutor

from .helpers import FakeEntryPoint, FakeLoader

OPTIONS = ExecutorOptions(
    parallelism=2, db_url="sqlite:///x.db", log_folder="/tmp/logs", heartbeat_seconds=1.0
)


class FakeExecutor(HoldingExecutor):
    name = "fake"

    def __init__(self, options: ExecutorOptions) -> None:
        super().__init__(options.parallelism)
        self.options = options


def registry(*entries: FakeEntryPoint) -> tuple[ExecutorRegistry, FakeLoader]:
    loader = FakeLoader({EXECUTORS_GROUP: entries})
    return ExecutorRegistry(plugins=loader), loader


def test_builtins_are_known_and_an_unknown_name_lists_them() -> None:
    reg, _ = registry()
    assert reg.names() == ("local", "sequential")
    with pytest.raises(ConfigError) as info:
        reg.create("kubernetes", OPTIONS)
    assert str(info.value) == "unknown executor 'kubernetes': expected one of 'local', 'sequential'"


def test_the_process_registry_builds_a_builtin(tmp_path: Path) -> None:
    assert executor_names()[:3] == ("local", "sequential", "celery")
    options = ExecutorOptions(
        parallelism=3, db_url="sqlite:///x.db", log_folder=str(tmp_path), heartbeat_seconds=1
    )
    assert isinstance(create_executor("sequential", options), SequentialExecutor)


def test_a_registered_fake_executor_is_created_with_the_options() -> None:
    reg, _ = registry()
    reg.register("fake", FakeExecutor)
    assert reg.names() == ("local", "sequential", "fake")
    executor = reg.create("fake", OPTIONS)
    assert isinstance(executor, FakeExecutor) and executor.options == OPTIONS
    with pytest.raises(ConfigError, match="'fake' is registered already"):
        reg.register("fake", FakeExecutor)


def test_builtins_are_registered_without_reading_entry_points() -> None:
    reg, loader = registry(FakeEntryPoint("fake", "fake_plugin:create", FakeExecutor))
    assert reg.resolve("Sequential") == "sequential"
    assert isinstance(reg.create("sequential", OPTIONS), SequentialExecutor)
    assert loader.reads[EXECUTORS_GROUP] == 0


def test_an_entry_point_is_discovered_once_and_loaded_when_created() -> None:
    loads: list[str] = []

    def factory(options: ExecutorOptions) -> Executor:
        loads.append("created")
        return FakeExecutor(options)

    reg, loader = registry(FakeEntryPoint("k8s", "windvane_k8s:create", factory))
    assert reg.names() == ("local", "sequential", "k8s")
    assert reg.resolve("K8S") == "k8s" and loads == []
    assert isinstance(reg.create("k8s", OPTIONS), FakeExecutor)
    assert isinstance(reg.create("k8s", OPTIONS), FakeExecutor)
    assert loads == ["created", "created"]
    assert loader.reads[EXECUTORS_GROUP] == 1
    with pytest.raises(ConfigError, match="expected one of 'local', 'sequential', 'k8s'"):
        reg.create("k8", OPTIONS)


def test_a_broken_entry_point_is_an_error_naming_it() -> None:
    broken = FakeEntryPoint("k8s", "windvane_k8s:create", error=ImportError("No module named 'kubernetes'"))
    reg, _ = registry(broken)
    with pytest.raises(PluginError) as info:
        reg.create("k8s", OPTIONS)
    assert str(info.value) == (
        "entry point 'k8s = windvane_k8s:create' (group 'windvane.executors') failed to load: "
        "ImportError: No module named 'kubernetes'"
    )
    assert reg.names()[-1] == "k8s"  # the others still work
    assert isinstance(reg.create("sequential", OPTIONS), SequentialExecutor)


def test_an_entry_point_that_is_no_factory_or_builds_no_executor_is_an_error() -> None:
    reg, _ = registry(
        FakeEntryPoint("const", "plugin:CONST", 42), FakeEntryPoint("odd", "plugin:odd", lambda options: "no")
    )
    with pytest.raises(PluginError, match=r"'const = plugin:CONST' .* is not a factory: 42"):
        reg.create("const", OPTIONS)
    with pytest.raises(PluginError, match="the factory of executor 'odd' returned str, not an Executor"):
        reg.create("odd", OPTIONS)


def test_an_entry_point_may_not_shadow_a_builtin_nor_share_a_name() -> None:
    reg, _ = registry(FakeEntryPoint("local", "evil:create", FakeExecutor))
    with pytest.raises(PluginError, match="declares executor 'local', which is registered already"):
        reg.names()
    reg, _ = registry(FakeEntryPoint("k8s", "one:create"), FakeEntryPoint("k8s", "two:create"))
    with pytest.raises(PluginError, match=r"two plug-ins declare 'k8s' .*'one:create' and 'two:create'"):
        reg.create("k8s", OPTIONS)
