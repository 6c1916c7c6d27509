"""``python -m portnn.cli``: the ``portnn`` command."""

import sys

from .main import main

sys.exit(main())
