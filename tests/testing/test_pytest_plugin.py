"""The pytest plugin, used the way a user's suite uses it: a test file run by pytest
in a pytester session (in this process, and in a subprocess, as installed)."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.anyio  # the runner memkv's test extra installs: anyio's pytest plugin
async def test_async_store_in_an_async_test(memkv_async_memory):
    await asyncio.gather(*(memkv_async_memory.store(f"k{i}", i) for i in range(10)))
    assert await memkv_async_memory.count() == 10


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
    result.assert_outcomes(passed=8, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_async_store_in_an_async_test[[]asyncio[]] PASSED*",
            "*test_every_backend[[]lmdb[]] PASSED*",
            "*test_every_backend[[]in-memory[]] PASSED*",
            "*test_failing_test_still_cleans_up FAILED*",
        ]
    )
    assert leftover_stores(pytester) == []


def test_option_runs_every_test_on_every_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_all="""
def test_store(memkv_memory, memkv_backend, memkv_fresh_memory):
    memkv_memory.store("k", 1)
    assert memkv_memory.backend.name == memkv_backend
    with memkv_fresh_memory() as mem:
        assert mem.backend.name == memkv_backend
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


HYPOTHESIS_TESTS = """
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def note(mem):
    with Path("backends.txt").open("a") as seen:
        print(mem.backend.name, mem.backend.location, sep="\\t", file=seen)


@settings(max_examples=20, database=None)
@given(n=st.integers(0, 10**6))
def test_fresh_store_per_example(memkv_fresh_memory, n):
    with memkv_fresh_memory() as mem:
        note(mem)
        assert mem.count() == 0
        for i in range(n % 6):
            mem.store(f"k{i}", i)


@pytest.mark.memkv_all_backends
@settings(max_examples=5, database=None)
@given(n=st.integers(0, 10**6))
def test_every_backend(memkv_fresh_memory, n):
    with memkv_fresh_memory(durability="relaxed") as mem:
        note(mem)
        assert mem.count() == 0
        mem.store("n", n)


@pytest.mark.memkv_all_backends
def test_the_factory_follows_memkv_backend(memkv_backend, memkv_fresh_memory):
    with memkv_fresh_memory() as mem:
        assert mem.backend.name == memkv_backend


@given(n=st.integers(0, 10**6))
def test_a_shared_store_is_refused(memkv_inmemory, n):
    memkv_inmemory.store("n", n)
"""


def test_hypothesis_tests_get_a_fresh_store_per_example(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_hypothesis=HYPOTHESIS_TESTS)
    result = pytester.runpytest(
        "-v", "-p", "no:cacheprovider", f"--basetemp={pytester.path / 'base'}"
    )
    result.assert_outcomes(passed=5, failed=1)  # one run per backend, not per pair
    result.stdout.fnmatch_lines(
        [
            "*test_every_backend[[]lmdb[]] PASSED*",
            "*test_every_backend[[]in-memory[]] PASSED*",
            "*test_the_factory_follows_memkv_backend[[]lmdb[]] PASSED*",
            "*test_the_factory_follows_memkv_backend[[]in-memory[]] PASSED*",
            "*FailedHealthCheck*function-scoped fixture 'memkv_inmemory'*",
        ]
    )
    seen = [line.split("\t") for line in (pytester.path / "backends.txt").read_text().splitlines()]
    assert len(seen) >= 20 + 5 + 5
    assert {backend for backend, _ in seen} == {"lmdb", "in-memory"}
    lmdb_stores = [location for backend, location in seen if backend == "lmdb"]
    assert len(set(lmdb_stores)) == len(lmdb_stores)  # a directory of its own per example
    assert not any(Path(location).exists() for location in lmdb_stores)  # all removed
