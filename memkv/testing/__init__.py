"""Tools for test suites of code built on memkv: hypothesis strategies
(`memkv.testing.strategies`), the pytest plugin (`memkv.testing.pytest_plugin`, loaded
by pytest on its own) and a hypothesis example database on memkv
(`memkv.testing.hypothesis_db`).

They need hypothesis (and pytest); the core never imports them.
"""
