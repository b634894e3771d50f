"""``python -m sklearn_pillars``: the sklearn-pillars command."""

import sys

from .cli import main

sys.exit(main())
