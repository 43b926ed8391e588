"""``python -m facepipe.cli``: the ``facepipe`` command."""

import sys

from facepipe.cli.program import main

sys.exit(main())
