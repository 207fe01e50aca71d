"""``python -m kontinue_worker``."""

import sys

from kontinue_worker.cli import main

sys.exit(main())
