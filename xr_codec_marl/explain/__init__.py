"""Explanations of decomposed-reward learners (seed 002 §III-F, §V-G, §VI-B/C/D).

- :mod:`~xr_codec_marl.explain.metrics`: RDX, RDFX inc/dec (ordered action spaces), the
  strongest-alternative comparison (any discrete space), MSX+/MSX− (batched numpy/torch).
- :mod:`~xr_codec_marl.explain.framework`: the Fig. 6 framework (a reference policy drives,
  learners are explained on the same trajectory) producing a tidy table; KPI collection.
- :mod:`~xr_codec_marl.explain.figures` / :mod:`~xr_codec_marl.explain.report`: Figs. 7–14 and
  one self-contained HTML report. ``xr-marl explain`` ties them together.
"""

from xr_codec_marl.explain.metrics import (
    explain_q,
    greedy_actions,
    msx,
    msx_minus,
    msx_plus,
    rdfx,
    rdx,
    runner_up,
)

__all__ = ["explain_q", "greedy_actions", "msx", "msx_minus", "msx_plus", "rdfx", "rdx",
           "runner_up"]
