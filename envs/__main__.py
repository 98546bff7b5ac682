"""``python -m envs --list``: every playable game id; ``python -m envs --check NAME``: resolve one."""

from __future__ import annotations

import argparse
import sys

from envs import UnknownGameError, all_games, resolve_game


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m envs", description="List or look up playable games.")
    parser.add_argument("--list", action="store_true", help="print every playable game id, one per line")
    parser.add_argument("--check", metavar="GAME", help="print the canonical name and family of GAME")
    args = parser.parse_args(argv)
    if args.check:
        try:
            spec = resolve_game(args.check)
        except UnknownGameError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{spec.name}\t{spec.family}\t{spec.gym_id}")
        return 0
    for name, spec in all_games().items():
        print(f"{name}\t{spec.family}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
