"""``python -m eudaimonia_nb``: the same command line as ``eudaimonia-nb``."""

import sys

from .cli import main

sys.exit(main())
