"""The ``memkv`` command (stats, get, list, forget, export, import, verify, bench,
demo, hypothesis).

Above the core: it imports `memkv` and the test-suite tools, and nothing imports it.
"""

from memkv.cli.main import main

__all__ = ["main"]
