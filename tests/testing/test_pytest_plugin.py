"""The pytest plugin, used the way a user's suite uses it: a test file run by pytest
in a pytester session (in this process, and in a subprocess, as installed)."""

from __future__ import annotations

import pytest

EXAMPLE_TESTS = """
import asyncio

import pytest

import memkv


def test_lmdb_store(memkv_memory, memkv_backend, tmp_path):
    assert memkv_backend == "lmdb"
    assert memkv_memory.backend.name == "lmdb"
    memkv_memory.store("k", 1)
    assert (tmp_path / "memkv-store").is_dir()
    assert memkv_memory.count() == 1


def test_in_memory_store(memkv_inmemory):
    memkv_inmemory.store("k", 2)
    assert memkv_inmemory.backend.name == "in-memory"
    assert memkv_inmemory.get("k").content == 2


def test_async_store(memkv_async_memory):
    async def write_then_read():
        await asyncio.gather(*(memkv_async_memory.store(f"k{i}", i) for i in range(10)))
        return await memkv_async_memory.count()

    assert asyncio.run(write_then_read()) == 10


def test_fresh_store_per_test(memkv_memory):
    assert memkv_memory.count() == 0  # nothing of the tests before


@pytest.mark.memkv_all_backends
def test_every_backend(memkv_memory, memkv_backend):
    memkv_memory.store("k", memkv_backend)
    assert memkv_memory.backend.name == memkv_backend


def test_reopen(memkv_open):
    first = memkv_open("agent", durability="relaxed")
    first.store("k", "kept")
    first.close()
    again = memkv_open("agent")
    assert again.get("k").content == "kept"


def test_failing_test_still_cleans_up(memkv_memory):
    memkv_memory.store("k", 3)
    assert memkv_memory.count() == 2, "fails on purpose"
"""


def leftover_stores(pytester: pytest.Pytester) -> list[str]:
    base = pytester.path / "base"
    assert (base / "test_failing_test_still_cleans0").is_dir()  # the test directory stays
    found = [*base.rglob("memkv-store"), *base.rglob("memkv-stores")]
    return [str(path) for path in found]


@pytest.mark.parametrize("how", ["in-process", "subprocess"])
def test_fixtures_work_and_stores_are_removed(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(test_example=EXAMPLE_TESTS)
    run = pytester.runpytest if how == "in-process" else pytester.runpytest_subprocess
    result = run("-v", "-p", "no:cacheprovider", f"--basetemp={pytester.path / 'base'}")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_every_backend[[]lmdb[]] PASSED*",
            "*test_every_backend[[]in-memory[]] PASSED*",
            "*test_failing_test_still_cleans_up FAILED*",
        ]
    )
    assert leftover_stores(pytester) == []


def test_option_runs_every_test_on_every_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_all="""
def test_store(memkv_memory, memkv_backend):
    memkv_memory.store("k", 1)
    assert memkv_memory.backend.name == memkv_backend
"""
    )
    result = pytester.runpytest("-v", "--memkv-backend=all")
    result.assert_outcomes(passed=2)
    result = pytester.runpytest("-v", "--memkv-backend=in-memory")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_store PASSED*"])
    result = pytester.runpytest("--memkv-backend=postgres")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="def test_store(memkv_memory):\n    pass\n")
    result = pytester.runpytest("-p", "no:memkv")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'memkv_memory' not found*"])
