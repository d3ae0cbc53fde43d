"""The twelve learners as combinations of three choices (pymarl-style registry).

- mixer: ``vdn`` (sum), ``qmix`` (monotonic hypernetwork mixer) or ``qtran`` (QTRAN-base);
- structure: ``vanilla`` (one Q per agent, trained on the summed reward), ``d`` (C separate
  agent networks and C mixers, eq. 24), ``mh`` (one shared trunk with C heads, eqs. 25-26);
- adaptive: MHA's Algorithm 3 loss weighting on top of ``mh``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xr_codec_marl.errors import choice_error


@dataclass(frozen=True)
class AlgoSpec:
    """Which components make up a learner."""

    name: str
    mixer: str  # "vdn" | "qmix" | "qtran"
    structure: str  # "vanilla" | "d" | "mh"
    adaptive: bool = False

    @property
    def decomposed(self) -> bool:
        """True when the learner keeps one Q-function per reward component."""
        return self.structure != "vanilla"


ALGOS: dict[str, AlgoSpec] = {}
for _mixer, _short in (("vdn", "dvdn"), ("qmix", "dqmix"), ("qtran", "dqtran")):
    ALGOS[_short] = AlgoSpec(_short, _mixer, "d")
    ALGOS[f"mh-{_short}"] = AlgoSpec(f"mh-{_short}", _mixer, "mh")
    ALGOS[f"mha-{_short}"] = AlgoSpec(f"mha-{_short}", _mixer, "mh", adaptive=True)
for _mixer in ("vdn", "qmix", "qtran"):
    ALGOS[_mixer] = AlgoSpec(_mixer, _mixer, "vanilla")

#: Names in the order of DESIGN.md section 4.
ALGO_NAMES: tuple[str, ...] = (
    "dvdn", "mh-dvdn", "mha-dvdn", "dqmix", "mh-dqmix", "mha-dqmix",
    "dqtran", "mh-dqtran", "mha-dqtran", "vdn", "qmix", "qtran",
)


def get_algo(name: str) -> AlgoSpec:
    """Look up a learner by name; unknown names raise a one-line ``UsageError``."""
    try:
        return ALGOS[name.lower()]
    except KeyError:
        raise choice_error("algo", name, ALGO_NAMES) from None
