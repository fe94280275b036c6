"""Real checks and results for the SoA tests (the agreed IDs and their controls)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditoria.modelo import Check, ControlLink, Kind, Relation, Result, Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
S, P = Relation.SUPPORTS, Relation.PARTIALLY_SUPPORTS


def check(cid: str, c13: list[str], c22: list[str], relation: Relation = S) -> Check:
    links = [ControlLink("2013", c, relation, "prueba") for c in c13]
    links += [ControlLink("2022", c, relation, "prueba") for c in c22]
    return Check(cid, cid.replace("_", " "), Kind.LINUX, tuple(links), valid_days=30)


CHECKS = {
    c.id: c
    for c in (
        check("ntp_sync", ["A.12.4.4"], ["A.8.17"]),
        check("syslog_remote", ["A.12.4.1"], ["A.8.15"]),
        check("log_permissions", ["A.12.4.2"], ["A.8.15"]),
        check("ssh_root_login", ["A.9.4.2", "A.9.2.3"], ["A.8.5", "A.8.2"]),
        check("login_banner", ["A.9.4.2"], ["A.8.5"], P),
        check("dormant_accounts", ["A.9.2.5", "A.9.2.6"], ["A.5.18"]),
        check("net_clock", ["A.12.4.4"], ["A.8.17"], P),
        check("usb_storage", ["A.8.3.1"], ["A.7.10"]),
        check("monitoring_agent", ["A.12.4.1"], ["A.8.16"], P),
    )
}


def result(check_id: str, host: str, status: Status, age_days: int = 1, valid_days: int = 30,
           source: str = "pukara", message: str = "prueba") -> Result:  # fmt: skip
    seen = NOW - timedelta(days=age_days)
    until = seen + timedelta(days=valid_days)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return Result(check_id, host, status, message, seen.strftime(stamp), until.strftime(stamp),
                  evidence={"raw": "x"}, source=source)  # fmt: skip


def results() -> list[Result]:
    return [
        result("ntp_sync", "srv-aud1", Status.PASS, age_days=2),
        result("ntp_sync", "srv-aud2", Status.PASS, age_days=40),  # stale: valid 30 days
        result("syslog_remote", "srv-aud1", Status.PASS),
        result("log_permissions", "srv-aud1", Status.FAIL),
        result("ssh_root_login", "srv-aud1", Status.FAIL),
        result("ssh_root_login", "srv-aud2", Status.ERROR),
        result("login_banner", "srv-aud1", Status.PASS),
        result("dormant_accounts", "srv-aud1", Status.WAIVED),
        result("net_clock", "gw-lima", Status.PASS),
        result("usb_storage", "srv-aud1", Status.NOT_APPLICABLE),
        result("monitoring_agent", "srv-aud1", Status.PASS, message='=HYPERLINK("x")'),
        result("openscap:xccdf_rule", "srv-aud1", Status.FAIL, source="openscap"),
    ]
