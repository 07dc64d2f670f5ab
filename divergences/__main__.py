"""``python -m divergences``: the ``divergences`` command (see :mod:`divergences.cli`)."""

import sys

from .cli import main

sys.exit(main())
