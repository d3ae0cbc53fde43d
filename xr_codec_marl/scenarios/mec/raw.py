"""What the ``mec-offload`` simulator reports each decision step: its raw state, by name.

The simulator owns the tasks (arrivals, the devices' decision buffers and CPUs, uploads over
the real uplink, the edge servers' queues, failures) and reports, at every step boundary,
what the twin's view (:meth:`.analytic.AnalyticMECEnv.view`) holds plus the step's event
counts (:class:`.tally.StepTally`). The scenario's glue (:mod:`.glue`) turns that into the
observations, state, available actions, reward components and declared KPIs with the same
functions the twin uses, so they are computed once, in Python, for both backends.

Per device (the Hello's ``kpi_names``, row-major by device), values at the step boundary
except the first three, which are the step's (the declared per-agent KPIs):

- ``decisions``, ``offloads``, ``waiting``: tasks decided this step, of them offloaded, and
  tasks waiting for a decision now;
- ``has``, ``bits``, ``cycles``, ``priority``, ``memory_gb``, ``slack_s``: the task the device
  decides next (``has`` 0: none; the others 0 then), its slack = deadline − now;
- ``local_wait_s``, ``uplink_wait_s``: until the device's CPU queue and its uplink are free;
- ``local_full``: 1 when the device's CPU has no free slot;
- ``aoi_s``: now − generation time of the device's newest completed task (0 before any);
- ``gain``: the linear path gain to the device's serving cell (the channel quality it
  reports; the same cell serves uploads to every server).

Global (the Hello's ``global_kpi_names``): per server ``k`` the fields :data:`SERVER_FIELDS`
as ``s{k}_{field}`` (server-major), then the step's event counts :data:`COUNTS`:

- ``backlog_s``: seconds of admitted work left (queued and in service, at its speed);
- ``speed_hz``, ``up`` (1/0), ``mem_used_gb``, ``mem_cap_gb``, ``free_slots``;
- ``busy``: fraction of the step the server computed;
- ``uploads_active``: uploads to the server in progress now.

Step 0 (the start-up report) carries the real state and zero counts.
"""

from __future__ import annotations

from xr_codec_marl.scenarios.mec.tally import StepTally

#: Per-device raw values, in the order the simulator sends them.
AGENT_FIELDS: tuple[str, ...] = (
    "decisions", "offloads", "waiting", "has", "bits", "cycles", "priority", "memory_gb",
    "slack_s", "local_wait_s", "uplink_wait_s", "local_full", "aoi_s", "gain")

#: Per-server raw values (names ``s{k}_{field}``, server-major).
SERVER_FIELDS: tuple[str, ...] = (
    "backlog_s", "speed_hz", "up", "mem_used_gb", "mem_cap_gb", "free_slots", "busy",
    "uploads_active")

#: The step's event counts, after the per-server values.
COUNTS: tuple[str, ...] = StepTally.COUNTS


def global_names(servers: int) -> tuple[str, ...]:
    """The global raw names for ``servers`` servers."""
    return tuple(f"s{k}_{f}" for k in range(servers) for f in SERVER_FIELDS) + COUNTS
