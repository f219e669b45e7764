"""The README's LangGraph example, then the `memkv` commands it shows for looking at
what the agent stored: each works, and shows the agent's items."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from memkv.cli import main
from tests.test_doc_examples import ROOT, examples, run_script

HEADING = "LangGraph long-term memory"
NAME = "('users', 'u-42', 'facts', 0, 'name')"
LIKES = "('users', 'u-42', 'facts', 0, 'likes')"


def readme_commands() -> list[list[str]]:
    """The command lines of the first ```sh block under `HEADING` in the README."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(f"## {HEADING}")
    opening = lines.index("```sh", start)
    closing = lines.index("```", opening)
    return [shlex.split(line, comments=True) for line in lines[opening + 1 : closing]]


def test_the_readme_commands_show_what_the_agent_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [agent] = [example for example in examples("README.md") if example.heading == HEADING]
    run_script(agent, tmp_path)  # two runs of the agent: two facts in agent-memory
    monkeypatch.chdir(tmp_path)
    shown: list[str] = []
    for argv in readme_commands():
        assert argv[0] == "memkv"
        code = main(argv[1:])
        out, err = capsys.readouterr()
        assert code == 0, (argv, err)
        shown.append(out)
    listing, entry, found = shown
    assert [line.split("  ")[0] for line in listing.splitlines()[1:-1]] == [LIKES, NAME]
    assert listing.splitlines()[-1] == "(2 entries)"
    assert all(" langgraph " in line for line in listing.splitlines()[1:-1])
    assert entry.splitlines()[0].split() == ["key", *NAME.split()]
    assert '"value":{"value":"Ada"}' in entry
    assert "category   langgraph" in entry
    hits = found.splitlines()[1:-1]
    assert len(hits) == 1
    assert LIKES in hits[0]
    assert "green tea" in hits[0]
