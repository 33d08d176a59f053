"""`python -m agents_sdk.offline verify-bundle FILE`: offline checks, no Django, no database."""

from __future__ import annotations

import argparse
import sys

from agents_sdk.offline import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents_sdk.offline")
    subparsers = parser.add_subparsers(dest="command", required=True)
    cli.register(subparsers)
    from agents_sdk.offline import crosscheck

    crosscheck.register(subparsers)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
