"""``python -m ads`` is the ``ads`` command."""

from .interfaces.cli import main

main()
