"""The package's front, `memkv/__init__.py`: its version."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import memkv
from tests.memkv.helpers import child_env

NOT_INSTALLED = """
from importlib import metadata

def version(name):
    raise metadata.PackageNotFoundError(name)

metadata.version = version
import memkv
print(memkv.__version__)
"""


def test_version_is_the_installed_distributions() -> None:
    assert memkv.__version__ == metadata.version("memkv")


def test_version_of_a_source_tree_that_is_not_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-c", NOT_INSTALLED],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "0+unknown", result.stderr
