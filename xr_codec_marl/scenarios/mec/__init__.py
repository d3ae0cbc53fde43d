"""Multi-MEC task offloading (seeds 000 and 001), being built (issue 11): so far the models
(:mod:`.models`). The scenario registers itself here once its analytic twin exists."""
