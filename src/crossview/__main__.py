"""``python -m crossview`` runs the CLI."""

import sys

from crossview.cli import main

sys.exit(main())
