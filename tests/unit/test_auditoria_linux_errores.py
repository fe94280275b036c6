"""An error, a missing output or an empty scope is never a pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditoria import linux, politica
from auditoria.modelo import Status

DATA = Path(__file__).parents[1] / "data" / "auditoria_linux"
OBSERVED = "2026-12-01T23:00:00Z"
TARGET = linux.Target("srv-aud9", "198.19.0.34")


def raw_of(variant: str) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in (DATA / variant).glob("*.txt")}


@pytest.fixture(scope="module")
def policy() -> politica.Policy:
    return politica.load()


def statuses(raw: dict[str, str], policy: politica.Policy, **kw: object) -> dict[str, Status]:
    results = linux.evaluate_host(TARGET, raw, policy, observed_at=OBSERVED, **kw)  # type: ignore[arg-type]
    assert [r.check_id for r in results] == list(linux.EVALUATORS)  # one line per check
    return {r.check_id: r.status for r in results}


def test_an_unreachable_host_is_an_error_on_every_check(policy: politica.Policy) -> None:
    results = linux.evaluate_host(
        TARGET,
        raw_of("endurecido"),
        policy,
        observed_at=OBSERVED,
        unreachable="ssh: connect to host 198.19.0.34 port 22: refused",
    )
    assert {r.status for r in results} == {Status.ERROR}
    assert all("inalcanzable" in r.message and r.host == "srv-aud9" for r in results)


def test_nothing_collected_is_an_error_on_every_check(policy: politica.Policy) -> None:
    assert set(statuses({}, policy).values()) == {Status.ERROR}


@pytest.mark.parametrize("key", sorted({k for keys, _ in linux.EVALUATORS.values() for k in keys}))
def test_a_failed_task_errors_its_checks_and_only_them(key: str, policy: politica.Policy) -> None:
    raw = raw_of("endurecido")
    del raw[key]
    got = statuses(raw, policy, task_errors={key: "Missing sudo password"})
    for check_id, (keys, _) in linux.EVALUATORS.items():
        assert got[check_id] == (Status.ERROR if key in keys else Status.PASS), check_id


@pytest.mark.parametrize("variant", ["endurecido", "maquina", "debil"])
@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "\n",
        "@@ x rc=1\n",
        "sudo: a password is required\n",
        "@@ sockets rc=1\nss: not found",
        "\x00\x1b[2J",
    ],
)
def test_empty_or_garbled_output_is_never_a_pass(
    variant: str, garbage: str, policy: politica.Policy
) -> None:
    for key in {k for keys, _ in linux.EVALUATORS.values() for k in keys}:
        raw = raw_of(variant)
        raw[key] = garbage
        got = statuses(raw, policy)
        for check_id, (keys, _) in linux.EVALUATORS.items():
            if key in keys and check_id != "sudo_nopasswd":
                assert got[check_id] != Status.PASS, (key, check_id)
            if key in keys and check_id == "sudo_nopasswd":  # no sudoers at all: no sudo
                assert got[check_id] in (Status.NOT_APPLICABLE, Status.FAIL, Status.ERROR)


@pytest.mark.parametrize(("key", "command", "check"), [
    ("time_sync", "chronyc_tracking", "ntp_sync"),
    ("sshd", "sshd_effective", "ssh_root_login"),
    ("firewall", "nft_ruleset", "firewall_default_deny"),
    ("listening", "sockets", "listening_services"),
    ("apt_upgrades", "apt_simulation", "security_updates"),
    ("lastlog", "lastlog_all", "dormant_accounts"),
    ("setuid", "setuid_files", "setuid_baseline"),
])  # fmt: skip
def test_a_missing_command_fails_with_its_reason(
    key: str, command: str, check: str, policy: politica.Policy
) -> None:
    raw = raw_of("endurecido")
    lines = raw[key].splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"@@ {command} rc=")))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("@@ ")), len(lines))
    lines[start:end] = [f"@@ {command} rc=127", f"sh: 1: {command}: not found"]
    raw[key] = "\n".join(lines)
    result = next(r for r in linux.evaluate_host(TARGET, raw, policy, observed_at=OBSERVED)
                  if r.check_id == check)  # fmt: skip
    assert result.status == Status.FAIL, result.message
    assert (
        "no existe" in result.message
        or "no está instalado" in result.message
        or ("no hay servicio de hora" in result.message)
    )


def test_a_broken_evaluator_input_is_an_error_not_a_crash(policy: politica.Policy) -> None:
    raw = raw_of("endurecido")
    raw["accounts"] = raw["accounts"].replace("@@ today rc=0\n", "@@ today rc=0\nmañana\n")
    got = statuses(raw, policy)
    assert got["dormant_accounts"] == Status.ERROR
