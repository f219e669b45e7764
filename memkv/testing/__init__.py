"""Tools for test suites of code built on memkv: `fresh_memory` (a new store per block,
for hypothesis tests; `memkv.testing.stores`), `ManualClock` (a clock that moves only
when told, to test expiry without sleeping), hypothesis strategies
(`memkv.testing.strategies`), the pytest plugin (`memkv.testing.pytest_plugin`, loaded
by pytest on its own) and a hypothesis example database on memkv
(`memkv.testing.hypothesis_db`).

The strategies, the plugin and the example database need hypothesis (and pytest);
`fresh_memory` needs neither. The core never imports them.
"""

from memkv.testing.clock import ManualClock
from memkv.testing.stores import BACKENDS, fresh_memory

__all__ = ["BACKENDS", "ManualClock", "fresh_memory"]
