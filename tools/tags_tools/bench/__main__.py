"""`python -m tags_tools.bench` (what `make bench` runs)."""

from tags_tools.bench.cli import main

raise SystemExit(main())
