"""Whether the ns-3 build has 5G-LENA NR, for the tests that need it.

NR needs the nr source, which no registry carries: a machine without it builds LTE only and
the NR tests skip, saying so. ``make test`` on a machine with the source (CI) sets
``XRMARL_REQUIRE_NR=1``, and there a missing NR build fails them instead.
"""

from __future__ import annotations

import os

import pytest

from xr_codec_marl.bridge.build import build_ns3, built_rans, is_up_to_date


def require_nr() -> None:
    """Build if needed; skip (or fail under XRMARL_REQUIRE_NR=1) when the build has no NR."""
    if not is_up_to_date():
        build_ns3()
    if "nr" in built_rans():
        return
    why = ("the ns-3 build has no 5G-LENA NR: run `xr-marl build-ns3 --nr-source "
           "<5g-lena-nr-v4.0.tar.gz or checkout>` (or `make ns3 NR_SOURCE=...`)")
    if os.environ.get("XRMARL_REQUIRE_NR") == "1":
        pytest.fail(why + " (XRMARL_REQUIRE_NR=1: this machine has the source)")
    pytest.skip(why)


def ran_param(ran: str):
    """A ``pytest.param`` for a RAN, marked so that NR ones check :func:`require_nr` first."""
    return pytest.param(ran, id=ran, marks=[pytest.mark.nr] if ran == "nr" else [])


RANS = [ran_param("lte"), ran_param("nr")]


@pytest.fixture
def ran(request) -> str:
    """The RAN of a test parametrised with ``RANS`` (NR: built, or skipped/failed)."""
    value = request.param
    if value == "nr":
        require_nr()
    return value
