"""Errors that reach the user as one clear line (exit code 2), never a traceback."""


class UsageError(ValueError):
    """Bad input from the user: an unknown name, an out-of-range value, a missing file."""


def choice_error(what: str, value: object, allowed: list[str] | tuple[str, ...]) -> UsageError:
    """``unknown policy 'foo'; allowed: max, min, random``."""
    return UsageError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")


def describe_exception(exc: BaseException, with_type: bool = False) -> str:
    """``exc`` on one line: its message with whitespace collapsed (a ``KeyError``'s unquoted),
    else its type; ``with_type`` puts ``Type: `` in front of a message."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(text.split())
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}" if with_type else text


class SimulatorError(RuntimeError):
    """A simulator that could not start or run (e.g. it refused its arguments): one line, exit 1.

    The message names the worker, what went wrong and the simulator's log file.
    """
