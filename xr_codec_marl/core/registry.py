"""The scenario registry: every command finds scenarios here by name.

Built-in scenarios are the subpackages and modules of :mod:`xr_codec_marl.scenarios`,
found and imported on first lookup (by module name, so this module depends on none of them).
Users plug in their own scenario by calling :func:`register_scenario` from a module named in ``$XRMARL_PLUGINS``
(comma-separated module names, imported on first lookup too) or exposed under the
``xr_codec_marl.scenarios`` entry-point group of an installed package.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from importlib import metadata

from typing import Any

from xr_codec_marl.core.api import EnvSpec
from xr_codec_marl.core.scenario import Scenario
from xr_codec_marl.errors import UsageError, choice_error

#: The package whose subpackages and modules are the built-in scenarios.
BUILTIN_PACKAGE = "xr_codec_marl.scenarios"
PLUGINS_ENV = "XRMARL_PLUGINS"
ENTRY_POINT_GROUP = "xr_codec_marl.scenarios"

_SCENARIOS: dict[str, Scenario] = {}
_loaded = False


def register_scenario(scenario: Scenario, *, replace: bool = False) -> Scenario:
    """Make ``scenario`` available as ``--env scenario.name``; returns it (decorator-friendly)."""
    if not scenario.name:
        raise ValueError("a scenario needs a name")
    if scenario.name in _SCENARIOS and not replace and _SCENARIOS[scenario.name] is not scenario:
        raise ValueError(f"scenario {scenario.name!r} is already registered")
    _SCENARIOS[scenario.name] = scenario
    return scenario


def unregister_scenario(name: str) -> None:
    _SCENARIOS.pop(name, None)


def load_plugins() -> None:
    """Import the built-in scenarios, ``$XRMARL_PLUGINS`` and entry points (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    package = importlib.import_module(BUILTIN_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__, BUILTIN_PACKAGE + "."):
        importlib.import_module(info.name)
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(f"${PLUGINS_ENV}: cannot import {module!r}: {exc}") from None
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def scenario_names() -> list[str]:
    load_plugins()
    return sorted(_SCENARIOS)


def all_scenarios() -> list[Scenario]:
    load_plugins()
    return [_SCENARIOS[n] for n in sorted(_SCENARIOS)]


def get_scenario(name: str) -> Scenario:
    """The scenario registered as ``name``; ``UsageError`` naming the known ones otherwise."""
    load_plugins()
    try:
        return _SCENARIOS[name]
    except KeyError:
        raise choice_error("env", name, sorted(_SCENARIOS)) from None


def find_scenario(name: str) -> Scenario | None:
    """The scenario a spec or Hello names: by registry name or by its ns-3 binary name
    (a simulator's Hello names its binary); None if none matches."""
    load_plugins()
    if name in _SCENARIOS:
        return _SCENARIOS[name]
    return next((s for s in _SCENARIOS.values() if s.binary and s.binary == name), None)


def ns3_binaries() -> tuple[str, ...]:
    """Every registered scenario's ns-3 executables, simulator and tools (what ``build-ns3``
    must produce)."""
    names = {s.binary for s in all_scenarios() if s.binary}
    names |= {t for s in all_scenarios() for t in s.ns3_tools}
    return tuple(sorted(names))


def recorded_settings(spec: EnvSpec) -> dict[str, Any]:
    """The settings a spec's scenario wants at the top level of results (its
    ``record_settings``, e.g. its main sweep axis), read from ``spec.extra["settings"]``."""
    scenario = find_scenario(str(spec.extra.get("scenario", spec.name)))
    settings = spec.extra.get("settings", {})
    if scenario is None:
        return {}
    return {k: settings[k] for k in scenario.record_settings
            if k in settings and settings[k] != ""}  # "": not set on this backend
