"""``python -m avpipe`` is the ``avpipe`` command."""

import sys

from .cli import main

sys.exit(main())
