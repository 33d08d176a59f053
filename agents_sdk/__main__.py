"""`python -m agents_sdk ...` runs the command-line tool."""

from agents_sdk.cli import main

raise SystemExit(main())
