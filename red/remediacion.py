"""The commands that bring a device from its running config to its golden config (hier_config).

hier_config 3.7 ships no FRRouting driver. FRR's vtysh speaks an IOS-like language, so the
driver below starts from hier_config's own rule kinds and states FRR's differences, each one
checked against FRR 8.4's vtysh:

- ``show running-config`` closes every top-level section with ``exit`` (and address families
  with `` exit-address-family``) and adds ``frr version``/``frr defaults`` and ``!`` lines:
  they are dropped on load (an ``exit`` left in would be read as a top-level command).
- The same command with a new value replaces the old one, so no ``no`` form is sent first
  (idempotent commands): ``hostname``, ``password``, ``enable password``, ``log syslog``,
  ``bgp router-id``, ``neighbor X remote-as|description|password``, an interface's
  ``description``, a route-map entry's ``match``/``set`` of one kind, and a prefix-list entry
  with the same list name and ``seq``. Note ``no neighbor X remote-as ...`` would delete the
  whole neighbour: only a changed remote-as is sent, never its negation.
- Unlike IOS, an interface takes several ``ip address``/``ipv6 address``: a new address is
  added next to the old one, so the old one is negated (IOS's idempotent rule is not used).
- Lines FRR writes from the kernel's state, its own build or how a daemon was started (``ip
  forwarding``, ``no ipv6 forwarding``, ``service integrated-vtysh-config``, ``bgp no-rib``
  of a bgpd started with ``-n``) are not configuration the golden config manages: they are
  left alone, never negated (``no bgp no-rib`` would have HQ's bgpd install routes in the
  kernel's table).

Secrets: backups carry ``<secreto:...>`` markers instead of secrets and the golden config a
placeholder; neither may reach a device. A remediation line that carries one is left out
with a warning (the secret is changed by hand, by whoever knows it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from hier_config import HConfig, HConfigChild, MatchRule, WorkflowRemediation, get_hconfig
from hier_config.models import (
    IdempotentCommandsRule,
    OrderingRule,
    ParentAllowsDuplicateChildRule,
    PerLineSubRule,
    SectionalExitingRule,
)
from hier_config.platforms.driver_base import HConfigDriverBase, HConfigDriverRules

from pukara.errors import UsageError

# what respaldo writes for a stripped secret, and what a golden template may use instead
SECRET = re.compile(r"<secreto(?::[^>\s]*)?>|\{\{[^}]*\}\}")
_UNMANAGED = re.compile(
    r"^(no )?ip(v6)? forwarding$|^service integrated-vtysh-config$|^frr (version|defaults)\b"
    r"|^bgp no-rib$"
)


def _rule(*startswith: str | tuple[str, ...]) -> tuple[MatchRule, ...]:
    return tuple(MatchRule(startswith=s) for s in startswith)


def _re(*patterns: str) -> tuple[MatchRule, ...]:
    return tuple(MatchRule(re_search=p) for p in patterns)


def _idempotent() -> list[IdempotentCommandsRule]:
    rules = [
        _rule("hostname "),
        _rule("password "),
        _rule("enable password "),
        _rule("log syslog"),
        _rule("router bgp ", "bgp router-id "),
        _rule("interface ", "description "),
    ]
    # one key per neighbour and attribute: ``neighbor 198.18.0.5 remote-as`` and the like
    rules += [
        (MatchRule(startswith="router bgp "), MatchRule(re_search=rf"^neighbor \S+ {attr} "))
        for attr in ("remote-as", "description", "password")
    ]
    rules += [
        (MatchRule(startswith="route-map "), MatchRule(re_search=rf"^{kind} "))
        for kind in (
            r"match ip address prefix-list",
            r"match ipv6 address prefix-list",
            r"set local-preference",
            r"set metric",
        )
    ]
    rules.append(_re(r"^ip prefix-list \S+ seq \d+ "))
    rules.append(_re(r"^ipv6 prefix-list \S+ seq \d+ "))
    return [IdempotentCommandsRule(match_rules=r) for r in rules]


class FRRDriver(HConfigDriverBase):
    """hier_config rules for FRRouting's vtysh (8.x); see the module docstring."""

    @staticmethod
    def _instantiate_rules() -> HConfigDriverRules:
        return HConfigDriverRules(
            idempotent_commands=_idempotent(),
            sectional_exiting=[
                SectionalExitingRule(
                    match_rules=_rule("router bgp", "address-family"),
                    exit_text="exit-address-family",
                ),
            ],
            parent_allows_duplicate_child=[
                ParentAllowsDuplicateChildRule(match_rules=_rule("router", "address-family")),
            ],
            ordering=[
                # lists first, so a route-map never points at a list not there yet, and
                # removals of lists last, once nothing refers to them
                OrderingRule(match_rules=_rule("ip prefix-list "), weight=-20),
                OrderingRule(match_rules=_rule("ipv6 prefix-list "), weight=-20),
                OrderingRule(match_rules=_rule("route-map "), weight=-10),
                OrderingRule(match_rules=_rule("no ip prefix-list "), weight=300),
                OrderingRule(match_rules=_rule("no ipv6 prefix-list "), weight=300),
                OrderingRule(match_rules=_rule("no route-map "), weight=290),
                OrderingRule(match_rules=_rule("interface", "no shutdown"), weight=200),
            ],
            per_line_sub=[
                PerLineSubRule(search=r"^Building configuration.*", replace=""),
                PerLineSubRule(search=r"^Current configuration.*", replace=""),
                PerLineSubRule(search=r"^end$", replace=""),
                PerLineSubRule(search=r"^\s*!.*", replace=""),
                PerLineSubRule(search=r"^\s*exit(-address-family|-vrf|-vnc)?\s*$", replace=""),
            ],
        )


@dataclass(frozen=True, slots=True)
class Remediation:
    """What :func:`remediate` computed for one device."""

    device: str
    commands: tuple[str, ...]  # to send in configuration mode, in order, exits included
    diff: tuple[str, ...]  # "- line" / "+ line", indented by level
    skipped: tuple[str, ...] = ()  # lines left out because they carry a secret
    warnings: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.commands


def _lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        if _UNMANAGED.match(line.strip()):
            continue
        out.append(SECRET.sub("<secreto>", line))
    return out


def load(text: str) -> HConfig:
    """A configuration text (running, backup or golden) as hier_config sees it."""
    try:
        return get_hconfig(FRRDriver(), "\n".join(_lines(text)))
    except (ValueError, LookupError) as e:  # DuplicateChildError and the like
        raise UsageError(f"configuración ilegible para calcular la remediación: {e}") from None


def _drop_secrets(config: HConfig) -> list[str]:
    """Remove every line carrying a secret (and lines left empty by it); return them."""
    dropped: list[str] = []
    for child in list(config.all_children()):
        if SECRET.search(child.text):
            dropped.append(" ".join(child.path()))
            parent = child.parent
            child.delete()
            while isinstance(parent, HConfigChild) and not parent.children:
                grand = parent.parent
                parent.delete()
                parent = grand
    return dropped


_NEIGHBOUR_SECRET = re.compile(r"^neighbor (\S+) password ")


def _hold_new_neighbours_without_password(remediation: HConfig, running: HConfig) -> list[str]:
    """A neighbour the remediation would create, whose password is a secret it cannot send,
    is not created at all: it would come up unauthenticated (or never). Its lines are left
    out and the neighbours returned, to be created by hand with their password."""
    held: list[str] = []
    for section in remediation.children:
        if not section.text.startswith("router bgp "):
            continue
        existing = running.get_child(equals=section.text)
        for child in list(section.children):
            found = _NEIGHBOUR_SECRET.match(child.text)
            if not found or not SECRET.search(child.text):
                continue
            address = found.group(1)
            known = existing is not None and any(
                line.text.startswith(f"neighbor {address} ") for line in existing.all_children()
            )
            if known:
                continue
            held.append(address)
            for line in list(section.all_children()):
                if line.text.startswith(f"neighbor {address} "):
                    parent = line.parent
                    line.delete()
                    while isinstance(parent, HConfigChild) and not parent.children:
                        grand = parent.parent
                        parent.delete()
                        parent = grand
    return held


def _keep_interfaces(remediation: HConfig, running: HConfig) -> None:
    """``no interface X`` becomes the negation of X's lines.

    FRR refuses to delete an interface the kernel has (``% Only inactive interfaces can be
    deleted``), and every interface of a router does: its addresses and description are
    removed instead.
    """
    for child in list(remediation.children):
        if not child.text.startswith("no interface "):
            continue
        name = child.text.removeprefix("no ")
        section = running.get_child(equals=name)
        child.delete()
        if section is None or not section.children:
            continue
        kept = remediation.add_child(name)
        for line in section.children:
            kept.add_child(f"no {line.text}")


def _commands(config: HConfig) -> tuple[str, ...]:
    return tuple(line.strip() for line in config.dump_simple(sectional_exiting=True))


def remediate(device: str, running: str, intended: str) -> Remediation:
    """The commands (and diff) that take ``running`` to ``intended`` on ``device``."""
    run, gold = load(running), load(intended)
    diff = tuple(run.unified_diff(gold))
    remediation = WorkflowRemediation(run, gold).remediation_config
    _keep_interfaces(remediation, run)
    held = _hold_new_neighbours_without_password(remediation, run)
    skipped = _drop_secrets(remediation)
    warnings = tuple(
        f"{device}: no se crea el vecino BGP {address}: su contraseña es un secreto que pukara "
        "no envía; créelo a mano con su contraseña"
        for address in held
    ) + tuple(
        f"{device}: se omite «{line}»: lleva un secreto, que se cambia a mano" for line in skipped
    )
    return Remediation(device, _commands(remediation), diff, tuple(skipped), warnings)


def _carries_secret(line: str) -> bool:
    """``line`` holds a secret in clear, as red.limpieza's rules for FRR find them."""
    from red import limpieza

    for pattern in limpieza.rules_for("frr").secrets:
        found = pattern.search(line)
        if found and not limpieza.MARKER.fullmatch(found.group("secret")):
            return True
    return False


def command_list(lines: Iterable[str]) -> tuple[str, ...]:
    """A command list given by a person, checked like computed ones (no secrets, no blanks).

    A line with a secret in clear is refused too: it would end up in vtysh's argv on the
    router (``--ansible``), in Ansible's kept artifacts and in the events.
    """
    out: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if SECRET.search(line):
            raise UsageError(f"línea {number}: «{line}» lleva un marcador de secreto")
        if _carries_secret(line):
            raise UsageError(
                f"línea {number}: la orden lleva un secreto en claro; no se envía. "
                "Cambie los secretos a mano en el equipo"
            )
        out.append(line)
    return tuple(out)
