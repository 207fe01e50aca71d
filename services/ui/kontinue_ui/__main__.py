"""``python -m kontinue_ui``: the same as ``kontinue-ui``."""

import sys

from kontinue_ui.cli import main

sys.exit(main())
