"""Every ```python block of the README (and of docs/testing.md) runs as it is written,
each in an empty working directory of its own.

A block that defines ``test_`` functions is a pytest test file: it is run by pytest
in a subprocess, as a user's suite runs it (memkv's plugin loaded from its entry
point), with warnings as errors; each of its tests must pass, and nothing may fail,
error or be skipped. Any other block is a script, run by Python in a subprocess: it
must exit 0 without writing to stderr, and where `EXPECTED_OUTPUT` names it, print
exactly that. A block naming a ``postgresql://`` URL runs with the ``PG*`` variables
of the test session's server (`tests.postgres`), so that ``"postgresql://"`` reaches
it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests import postgres

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "docs/testing.md")
TEST_FUNCTION = re.compile(r"^(?:async )?def (test_\w+)\(", re.MULTILINE)
POSTGRES_URL = re.compile(r"\bpostgres(?:ql)?://")

# What a block prints, by its document and the heading it is under.
EXPECTED_OUTPUT = {
    "README.md#Quick start": [
        "['message 1', 'message 2']",
        "['message 3', 'message 4']",
        "['message 5']",
        "5",
        "3",
        "64",
    ],
    "README.md#LangGraph long-term memory": ["name=Ada", "likes=green tea, name=Ada"],
    "README.md#LangGraph checkpoints": [
        "{'please review': 'Dear Ada, the release is on Friday.'}",
        "('review',)",
        "['drafted', 'reviewed: approved']",
    ],
}


class Example(NamedTuple):
    document: str
    line: int  # of the opening fence
    heading: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.document}#{self.heading}"

    @property
    def tests(self) -> list[str]:
        return TEST_FUNCTION.findall(self.code)


def examples(document: str) -> list[Example]:
    """The ```python blocks of ``document``, each with the heading it is under."""
    found: list[Example] = []
    heading = ""
    block: list[str] | None = None
    start = 0
    for number, line in enumerate((ROOT / document).read_text().splitlines(), 1):
        if block is not None:
            if line.startswith("```"):
                found.append(Example(document, start, heading, "\n".join(block) + "\n"))
                block = None
            else:
                block.append(line)
        elif line.startswith("```python"):
            block, start = [], number
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
    assert block is None, f"{document}:{start}: a ```python block is never closed"
    return found


ALL = [example for document in DOCUMENTS for example in examples(document)]


def test_every_document_has_examples_and_expected_output_names_one() -> None:
    for document in DOCUMENTS:
        assert examples(document), f"{document} has no python block"
    assert set(EXPECTED_OUTPUT) <= {example.name for example in ALL}


def environment(example: Example) -> dict[str, str]:
    env = dict(os.environ)
    if POSTGRES_URL.search(example.code):
        from psycopg.conninfo import conninfo_to_dict

        for part, value in conninfo_to_dict(postgres.dsn()).items():
            env[f"PG{part.upper()}"] = str(value)  # host, port, user, password, dbname
    return env


@pytest.mark.parametrize(
    "example",
    [example for example in ALL if not example.tests],
    ids=lambda example: f"{example.document}:{example.line}",
)
def test_script_runs(example: Example, tmp_path: Path) -> None:
    output = run_script(example, tmp_path)
    expected = EXPECTED_OUTPUT.get(example.name)
    if expected is not None:
        assert output.splitlines() == expected


def run_script(example: Example, directory: Path) -> str:
    """What ``example`` prints, run as a script in ``directory``; it must exit 0
    and write nothing to stderr."""
    script = directory / "example.py"
    script.write_text(example.code)
    run = subprocess.run(
        [sys.executable, "-W", "error", script.name],
        cwd=directory,
        env=environment(example),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    where = f"{example.document}:{example.line}"
    assert run.returncode == 0, f"{where} failed:\n{run.stderr}"
    assert run.stderr == "", f"{where} wrote to stderr:\n{run.stderr}"
    return run.stdout


def test_a_block_naming_postgresql_reaches_the_session_server(tmp_path: Path) -> None:
    schema = postgres.schema_for(tmp_path)
    code = f"""
import memkv

with memkv.open("postgresql://", schema="{schema}") as mem:
    mem.store("k", "on PostgreSQL")
    print(mem.backend.name, mem.get("k").content)
"""
    example = Example("made up", 1, "", code)
    assert run_script(example, tmp_path) == "postgres on PostgreSQL\n"


@pytest.mark.parametrize(
    "example",
    [example for example in ALL if example.tests],
    ids=lambda example: f"{example.document}:{example.line}",
)
def test_test_file_passes(
    example: Example, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment(example).items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_example=example.code)
    result = pytester.runpytest_subprocess("-v", "-W", "error", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    passed = outcomes.pop("passed", 0)
    assert outcomes == {}, f"{example.document}:{example.line}: {outcomes}"
    assert passed >= len(example.tests)
    result.stdout.fnmatch_lines(
        [f"*::{name}* PASSED*" for name in example.tests], consecutive=False
    )
