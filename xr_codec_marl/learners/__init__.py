"""Decomposed value-factorisation learners (seed 002 §V): D / MH-D / MHA-D x VDN / QMIX / QTRAN,
plus vanilla VDN / QMIX / QTRAN on the summed reward; and the policy-gradient learners
MAPPO / IPPO / IMAPPO with hybrid discrete/continuous actions (:mod:`~xr_codec_marl.learners.pg`).

Modules, in the order data flows through them:

- :mod:`~xr_codec_marl.learners.registry`  the twelve names -> (mixer, structure, adaptive)
- :mod:`~xr_codec_marl.learners.config`    settings with Table II defaults, file + ``--set``
- :mod:`~xr_codec_marl.learners.agents`    GRU agents: vanilla, D (C networks), MH (C heads)
- :mod:`~xr_codec_marl.learners.mixers`    VDN, QMIX / DQMIX, MH-QMIX (eq. 26), QTRAN critics
- :mod:`~xr_codec_marl.learners.adaptive`  MHA Algorithm 3: GradNorm w_c, importance l_c
- :mod:`~xr_codec_marl.learners.learner`   targets, losses, the gradient step
- :mod:`~xr_codec_marl.learners.runner`    batches of episodes from any ``VecMultiAgentEnv``
- :mod:`~xr_codec_marl.learners.replay`    padded episode buffer with a ``filled`` mask
- :mod:`~xr_codec_marl.learners.loop`      the run loop every family shares: log, checkpoints, Ctrl-C
- :mod:`~xr_codec_marl.learners.trainer`   the value learners' iteration: collect, replay, learn
- :mod:`~xr_codec_marl.learners.checkpoint` weights_only-safe checkpoints (``policy.load_policy`` loads one)
- :mod:`~xr_codec_marl.learners.policy`    ``CheckpointPolicy`` (an ``ExplainablePolicy``)
"""

from xr_codec_marl.learners.registry import ALGO_NAMES, ALGOS, AlgoSpec, get_algo

__all__ = ["ALGOS", "ALGO_NAMES", "AlgoSpec", "get_algo"]
