"""``python -m memkv``: the memkv command."""

import sys

from memkv.cli import main

sys.exit(main())
