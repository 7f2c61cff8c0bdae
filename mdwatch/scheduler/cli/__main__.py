"""``python -m mdwatch.scheduler.cli``: the ``mdwatch`` command."""

from mdwatch.scheduler.cli import main

main()
