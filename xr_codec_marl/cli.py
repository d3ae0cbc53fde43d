"""`xr-marl`: the command line. Each subcommand lives in ``xr_codec_marl.commands.<name>``.

A command module exposes ``register(subparsers)`` which adds its parser and sets
``func=run`` (``run(args) -> int``). Bad input raises :class:`UsageError`, printed as one line
with exit code 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from xr_codec_marl.errors import SimulatorError, UsageError

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "evaluate",
    "train",
    "explain",
    "sweep",
    "serve",
    "build_ns3",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        raise UsageError(message)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; ``argv`` (default ``sys.argv[1:]``) picks whose scenario flags it carries."""
    from xr_codec_marl.commands.common import peek_env, select_env

    select_env(peek_env(sys.argv[1:] if argv is None else list(argv)))
    parser = _Parser(prog="xr-marl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"xr_codec_marl.commands.{name}")
        except ModuleNotFoundError as exc:  # a command still being built: leave it out
            if exc.name == f"xr_codec_marl.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser(argv).parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"xr-marl: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `xr-marl evaluate --json | head`
        sys.stderr.close()
        return 0
    except (TimeoutError, ConnectionError, SimulatorError) as exc:  # simulators that never came,
        # a dead peer, a simulator that refused its arguments
        print(f"xr-marl: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("xr-marl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
