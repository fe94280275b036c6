"""A lab of agents that answer differently: one malformed, one v3-only, one v2c-only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab import manage
from lab.sites import LabSite
from tests.conftest import running_lab

# Indexes of their own, away from TEST_SITES and the monitoring tests' sites
SNMP_SITES = [
    LabSite(index=3101, code="u1", delay_ms=20.0),
    LabSite(index=3102, code="u2", delay_ms=20.0, snmp_malo=True),
    LabSite(index=3103, code="u3", delay_ms=20.0, snmp_only="v3"),
    LabSite(index=3104, code="u4", delay_ms=20.0, snmp_only="v2c"),
]


def snmp_site(code: str) -> LabSite:
    return next(s for s in SNMP_SITES if s.code == code)


@pytest.fixture(scope="session")
def snmp_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    yield from running_lab(tmp_path_factory, SNMP_SITES, "pks")
