"""``python -m avpipe.cli`` is the ``avpipe`` command, as ``python -m avpipe`` is (the single-file
``avpipe/cli.py`` of earlier versions ran that way too)."""

import sys

from . import main

sys.exit(main())
