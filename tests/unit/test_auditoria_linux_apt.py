"""security_updates: the simulation only counts when every source has lists of its own."""

from __future__ import annotations

from auditoria import linux_sistema, politica
from auditoria.modelo import Status

SIMULATION = (
    "@@ apt_simulation rc=0\nReading package lists...\nBuilding dependency tree...\n"
    "Reading state information...\nCalculating upgrade...\n"
    "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
)
LAB = (
    "'file:/srv/pukara-lab-repo/dists/bookworm-security/InRelease' "
    "_srv_pukara-lab-repo_dists_bookworm-security_InRelease 0 \n"
    "'file:/srv/pukara-lab-repo/dists/bookworm-security/main/binary-amd64/Packages.xz' "
    "_srv_pukara-lab-repo_dists_bookworm-security_main_binary-amd64_Packages 0 \n"
)
DEBIAN = (
    "'http://deb.debian.org/debian-security/dists/bookworm-security/InRelease' "
    "deb.debian.org_debian-security_dists_bookworm-security_InRelease 0 \n"
    "'http://deb.debian.org/debian-security/dists/bookworm-security/main/binary-amd64/"
    "Packages.xz' deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_"
    "Packages 0 \n"
)
LAB_LISTS = (
    "_srv_pukara-lab-repo_dists_bookworm-security_InRelease\n"
    "_srv_pukara-lab-repo_dists_bookworm-security_main_binary-amd64_Packages.lz4\n"
    "auxfiles\nlock\npartial\n"
)


def judge(uris: str, lists: str, count: int = 1) -> linux_sistema.Verdict:
    raw = (
        f"@@ apt_lists rc=0\n{count}\n@@ apt_release_uris rc=0\n{uris}"
        f"@@ apt_list_files rc=0\n{lists}{SIMULATION}"
    )
    return linux_sistema.security_updates({"apt_upgrades": raw}, politica.load())


def test_every_source_with_its_lists_is_judged_by_the_simulation() -> None:
    assert judge(LAB, LAB_LISTS).status == Status.PASS


def test_a_source_that_never_got_its_lists_is_not_a_pass() -> None:
    """The machine's Debian sources left with only the lab's lists: the simulation saw one
    repository of two; «nothing pending» would be a false pass."""
    got = judge(LAB + DEBIAN, LAB_LISTS)
    assert got.status == Status.FAIL
    assert "http://deb.debian.org/debian-security/dists/bookworm-security" in got.message


def test_a_source_with_a_detached_release_file_has_its_lists() -> None:
    lists = LAB_LISTS.replace("_InRelease", "_Release")
    assert judge(LAB, lists).status == Status.PASS


def test_no_lists_at_all_is_still_a_fail() -> None:
    assert judge(LAB, "auxfiles\nlock\npartial\n", count=0).status == Status.FAIL
