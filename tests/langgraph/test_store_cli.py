"""The README's LangGraph example, then the `memkv` commands it and docs/langgraph.md
show for looking at what the agent stored: each works, and shows the agent's items."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from memkv.cli import main
from tests.test_doc_examples import ROOT, examples, run_script

HEADING = "LangGraph long-term memory"
DOCS_HEADING = "An agent that remembers across runs and processes"
NAME = "('users', 'u-42', 'facts', 0, 'name')"
LIKES = "('users', 'u-42', 'facts', 0, 'likes')"


def commands(document: str, heading: str) -> list[list[str]]:
    """The command lines of the first ```sh block under ``heading`` in ``document``
    (the lines that are only comments left out)."""
    lines = (ROOT / document).read_text().splitlines()
    start = next(number for number, line in enumerate(lines) if line.endswith(f"# {heading}"))
    opening = lines.index("```sh", start)
    closing = lines.index("```", opening)
    found = [shlex.split(line, comments=True) for line in lines[opening + 1 : closing]]
    return [argv for argv in found if argv]


@pytest.fixture
def agent_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding the store ``agent-memory`` the README's agent left after
    its two runs; the working directory."""
    [agent] = [example for example in examples("README.md") if example.heading == HEADING]
    run_script(agent, tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_all(argvs: list[list[str]], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What each ``memkv`` command line prints; each must exit 0."""
    shown: list[str] = []
    for argv in argvs:
        assert argv[0] == "memkv"
        code = main(argv[1:])
        out, err = capsys.readouterr()
        assert code == 0, (argv, err)
        shown.append(out)
    return shown


@pytest.mark.usefixtures("agent_memory")
def test_the_readme_commands_show_what_the_agent_stored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listing, entry, found = run_all(commands("README.md", HEADING), capsys)
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


@pytest.mark.usefixtures("agent_memory")
def test_the_docs_commands_show_what_the_agent_stored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listing, one_user, entry, found = run_all(commands("docs/langgraph.md", DOCS_HEADING), capsys)
    assert one_user == listing
    assert [line.split("  ")[0] for line in listing.splitlines()[1:-1]] == [LIKES, NAME]
    assert '"created_at":' in entry
    assert LIKES in found
