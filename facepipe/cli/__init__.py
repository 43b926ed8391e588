"""The ``facepipe`` command: one module per command group.

``program`` holds the parser, ``main()`` and the dispatch; ``exits`` the exit codes and
``UsageError``; ``arguments`` the shared argument types; ``run`` (run, watch, resume),
``records`` (records, show), ``outbox``, ``detect``, ``console``, ``aws`` and ``demo`` the
commands; ``views`` how they look in a terminal. Importing this package loads argparse only.
"""

from facepipe.cli.program import main

__all__ = ["main"]
