"""Third-party dependencies: which are required, which are optional, and a check of both.

Every module the package imports is either *required* (declared in ``pyproject.toml``'s
``dependencies``; a missing one is a broken install) or *optional* (imported only where a
feature needs it, through :func:`optional`, which says in one line what is off and how to get
it). ``python -m xr_codec_marl.deps --check`` imports every required module and exits non-zero
naming the first one missing; ``make install`` runs it so a broken environment fails at once.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

#: import name -> distribution name (as written in pyproject.toml's ``dependencies``).
REQUIRED: dict[str, str] = {
    "torch": "torch",
    "numpy": "numpy",
    "zmq": "pyzmq",
    "google.protobuf": "protobuf",
    "gymnasium": "gymnasium",
    "pettingzoo": "pettingzoo",
    "matplotlib": "matplotlib",
    "pandas": "pandas",
    "tqdm": "tqdm",
    "rich": "rich",
    "yaml": "pyyaml",
    "tensorboard": "tensorboard",
}

#: import name -> (distribution, what it enables); imported only through :func:`optional`.
OPTIONAL: dict[str, tuple[str, str]] = {
    "ray": ("ray>=2.9", "sweep --engine ray"),
}

_warned: set[str] = set()


def optional(module: str) -> ModuleType | None:
    """Import an optional module, or say once on stderr what is off without it and return None."""
    try:
        return importlib.import_module(module)
    except ImportError:
        dist, feature = OPTIONAL.get(module, (module, module))
        if module not in _warned:
            _warned.add(module)
            print(f"note: {feature} is off: {module} is not installed (pip install '{dist}')",
                  file=sys.stderr)
        return None


def missing_required() -> list[str]:
    """Distributions of the required modules that cannot be imported."""
    missing = []
    for module, dist in REQUIRED.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(dist)
    return missing


def main(argv: list[str] | None = None) -> int:
    """``--check``: exit 1 with one line naming the missing distributions, else 0."""
    missing = missing_required()
    if missing:
        print(f"error: required packages missing from this environment: {', '.join(missing)} "
              "(pip install -e . installs them)", file=sys.stderr)
        return 1
    print(f"dependencies: all {len(REQUIRED)} required packages import")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
