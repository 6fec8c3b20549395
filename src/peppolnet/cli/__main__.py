"""``python -m peppolnet.cli``."""

import sys

from peppolnet.cli import main

sys.exit(main())
