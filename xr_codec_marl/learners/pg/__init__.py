"""Policy-gradient learners with hybrid discrete/continuous actions: MAPPO, IPPO, IMAPPO.

Modules, in the order data flows through them:

- :mod:`~xr_codec_marl.learners.pg.layout`        action spaces -> categorical + Gaussian heads
- :mod:`~xr_codec_marl.learners.pg.distributions` the hybrid distribution (log-prob, entropy per head)
- :mod:`~xr_codec_marl.learners.pg.networks`      shared actor, critics (state / obs / aggregated)
- :mod:`~xr_codec_marl.learners.pg.rollout`       a batch of episodes from any ``VecMultiAgentEnv``
- :mod:`~xr_codec_marl.learners.pg.ppo`           GAE, clipped surrogate, value clipping, entropy
- :mod:`~xr_codec_marl.learners.pg.learner`       the PPO update of one rollout
- :mod:`~xr_codec_marl.learners.pg.trainer`       the on-policy loop (checkpoint, resume, log)
- :mod:`~xr_codec_marl.learners.pg.policy`        a trained actor as a ``Policy``
"""
