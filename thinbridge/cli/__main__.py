"""``python -m thinbridge.cli``: the command line."""
import sys

from thinbridge.cli import main

sys.exit(main())
