"""``python -m peppolnet``."""

import sys

from peppolnet.cli import main

sys.exit(main())
