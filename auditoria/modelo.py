"""The audit's result model: checks, their links to controls, and one result per check and host.

Every source (pukara's own checks, OpenSCAP, Lynis) lands in :class:`Result`, so an auditor
reads them side by side. An error or an empty scope is never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

EDITIONS = ("2013", "2022")


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 (a result state, not a secret)
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not-applicable"
    WAIVED = "waived"


class Relation(StrEnum):
    SUPPORTS = "supports"
    PARTIALLY_SUPPORTS = "partially-supports"


class Kind(StrEnum):
    LINUX = "linux"  # Linux servers, through playbooks/auditoria/
    NETWORK = "red"  # the inventory's network devices, over SNMP and SSH
    RECORDS = "registros"  # pukara's own records (inventory, change log, monitoring, csirt)


@dataclass(frozen=True, slots=True)
class ControlLink:
    """One check evidences one control of one edition."""

    edition: str  # "2013" or "2022"
    control: str  # "A.12.4.1", "A.8.15"
    relation: Relation
    rationale: str  # one line, pukara's own words


@dataclass(frozen=True, slots=True)
class Check:
    id: str  # snake_case, stable: "ssh_root_login"
    title: str  # short Spanish label
    kind: Kind
    links: tuple[ControlLink, ...]  # both editions; at most 3 controls per edition
    valid_days: int  # how long a result stays fresh evidence
    version: int = 1  # bumped when the check's logic changes

    def controls(self, edition: str) -> list[str]:
        return [link.control for link in self.links if link.edition == edition]


@dataclass(frozen=True, slots=True)
class Result:
    """One check on one host. ``evidence`` holds JSON-able values only (the raw output)."""

    check_id: str
    host: str
    status: Status
    message: str  # Spanish, one line: why this status
    observed_at: str  # UTC, ISO 8601 with "Z": when the host was observed
    valid_until: str  # UTC, ISO 8601 with "Z": observed_at + the check's valid_days
    evidence: Mapping[str, Any] = field(default_factory=dict)
    source: str = "pukara"  # "pukara", "openscap", "lynis"
    waiver: str | None = None  # the waiver's id when status is WAIVED (or an expired one: FAIL)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "host": self.host,
            "status": self.status.value,
            "message": self.message,
            "observed_at": self.observed_at,
            "valid_until": self.valid_until,
            "evidence": dict(self.evidence),
            "source": self.source,
            "waiver": self.waiver,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        return cls(
            check_id=str(data["check_id"]),
            host=str(data["host"]),
            status=Status(data["status"]),
            message=str(data["message"]),
            observed_at=str(data["observed_at"]),
            valid_until=str(data["valid_until"]),
            evidence=dict(data.get("evidence") or {}),
            source=str(data.get("source", "pukara")),
            waiver=data.get("waiver"),
        )
