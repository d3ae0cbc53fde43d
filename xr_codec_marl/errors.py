"""Errors that reach the user as one clear line (exit code 2), never a traceback."""


class UsageError(ValueError):
    """Bad input from the user: an unknown name, an out-of-range value, a missing file."""


def choice_error(what: str, value: object, allowed: list[str] | tuple[str, ...]) -> UsageError:
    """``unknown policy 'foo'; allowed: aps, max, min, random``."""
    return UsageError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")


class SimulatorError(RuntimeError):
    """A simulator that could not start or run (e.g. it refused its arguments): one line, exit 1.

    The message names the worker, what went wrong and the simulator's log file.
    """
