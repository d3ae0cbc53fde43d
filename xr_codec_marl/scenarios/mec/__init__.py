"""Multi-MEC task offloading (seeds 000 and 001): settings and presets, the models, the random
processes, the radio, the compute queues, the batched analytic twin, the KPI and reward
declarations, the rule baselines and the scenario object. Importing it registers ``mec``."""

from xr_codec_marl.core.registry import register_scenario
from xr_codec_marl.scenarios.mec.scenario import MECScenario

MEC = register_scenario(MECScenario())
