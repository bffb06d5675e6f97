"""`python -m pipelines` is `callsync`."""

import sys

from pipelines.cli import console

sys.exit(console())
