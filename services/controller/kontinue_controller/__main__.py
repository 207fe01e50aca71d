"""``python -m kontinue_controller``."""

import sys

from kontinue_controller.cli import main

sys.exit(main())
