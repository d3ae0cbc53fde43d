"""The twelve learners as combinations of three choices (pymarl-style registry).

- mixer: ``vdn`` (sum), ``qmix`` (monotonic hypernetwork mixer) or ``qtran`` (QTRAN-base);
  ``none`` is IQL's (each agent learns its own Q on the team reward);
- structure: ``vanilla`` (one Q per agent, trained on the summed reward), ``d`` (C separate
  agent networks and C mixers, eq. 24), ``mh`` (one shared trunk with C heads, eqs. 25-26);
- adaptive: MHA's Algorithm 3 loss weighting on top of ``mh``.

The policy-gradient learners (``family = "pg"``, :mod:`~xr_codec_marl.learners.pg`) are the
combinations of a critic input and an advantage normalisation (the ``auto`` values of the
``critic`` and ``adv_norm`` settings): MAPPO (centralised critic on the state), IPPO (each
agent's critic on its own observation) and IMAPPO (seed 001: critic on an aggregated state,
advantages normalised across agents, counterfactual baseline; hybrid heads as every one of
them).
"""

from __future__ import annotations

from dataclasses import dataclass

from xr_codec_marl.errors import choice_error


@dataclass(frozen=True)
class AlgoSpec:
    """Which components make up a learner."""

    name: str
    mixer: str  # "vdn" | "qmix" | "qtran" | "none" (IQL); "" for policy-gradient learners
    structure: str  # "vanilla" | "d" | "mh"
    adaptive: bool = False
    #: "value" (the twelve above) or "pg" (policy-gradient learners)
    family: str = "value"
    #: pg only: the critic's input, the advantage normalisation and the advantage's baseline
    #: their ``auto`` settings mean
    critic: str = ""
    adv_norm: str = ""
    baseline: str = "value"

    @property
    def decomposed(self) -> bool:
        """True when the learner keeps one Q-function per reward component."""
        return self.structure != "vanilla"

    @property
    def is_pg(self) -> bool:
        return self.family == "pg"


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


#: Value learners beyond the twelve: independent Q-learning (seed 001's "independent Q").
OTHER_VALUE_ALGOS: dict[str, AlgoSpec] = {"iql": AlgoSpec("iql", "none", "vanilla")}

#: The policy-gradient learners (DESIGN.md section 4's "later" names).
PG_ALGOS: dict[str, AlgoSpec] = {
    "mappo": AlgoSpec("mappo", "", "vanilla", family="pg", critic="state", adv_norm="joint"),
    "ippo": AlgoSpec("ippo", "", "vanilla", family="pg", critic="obs", adv_norm="agent"),
    "imappo": AlgoSpec("imappo", "", "vanilla", family="pg", critic="aggregated",
                       adv_norm="joint", baseline="counterfactual"),
}
PG_NAMES: tuple[str, ...] = tuple(PG_ALGOS)
#: Every learner ``xr-marl train --algo`` takes.
LEARNER_NAMES: tuple[str, ...] = ALGO_NAMES + tuple(OTHER_VALUE_ALGOS) + PG_NAMES


def get_algo(name: str) -> AlgoSpec:
    """Look up a learner by name; unknown names raise a one-line ``UsageError``."""
    key = name.lower()
    spec = ALGOS.get(key) or OTHER_VALUE_ALGOS.get(key) or PG_ALGOS.get(key)
    if spec is None:
        raise choice_error("algo", name, LEARNER_NAMES)
    return spec
