"""`python -m migration`: the same as the `km-migrate` console script."""

import sys

from migration.cli import main

sys.exit(main())
