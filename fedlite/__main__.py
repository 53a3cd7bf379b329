"""``python -m fedlite`` is the ``fedlite`` command."""

from fedlite.cli import main

raise SystemExit(main())
