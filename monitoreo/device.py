"""One SNMP GET per device per cycle: WAN counters and the VPN kit's tunnel state.

Interface indexes are learnt once (a multi-column walk of ifDescr, ifOperStatus and the
address table of the management address's family, ipAddrTable for IPv4 and ipAddressTable
for IPv6, to find the interface holding that address) and kept; each
cycle is then a single GET of known instances. When the tunnel's interface is no longer at
its index (an OpenVPN or IPsec restart gives it a new one), or is down there (the agent may
keep the old row, down, next to the new one of the same name), one walk finds it again: the
row of that name that is up, else the newest; or finds it missing: a tunnel missing from the
device's table is down, not unknown.

Whatever one device answers (a string where a counter belongs, noSuchObject, an index that
cannot be an address) is that device's error in its DevicePoll, never the cycle's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventario.model import DEFAULT_VPN_INTERFACE
from monitoreo.counters import CounterSample
from monitoreo.sites import Site
from pukara import secrets
from pukara.errors import AuthError, DeviceError, SecretsError, os_reason
from pukara.oids import (
    IF_DESCR,
    IF_DISCONTINUITY,
    IF_HC_IN,
    IF_HC_OUT,
    IF_HIGH_SPEED,
    IF_OPER,
    IP_AD_ENT_IFINDEX,
    IP_ADDRESS_IFINDEX,
    SYS_UPTIME,
    label,
)
from pukara.snmp import Session, SnmpCredential, credentials_from_profile, engines, index_address
from pukara.text import clean_line

OPER_UP = 1


@dataclass(slots=True)
class Indexes:
    wan: int | None = None
    wan_name: str | None = None
    tunnel: int | None = None


@dataclass(frozen=True, slots=True)
class DevicePoll:
    site: str
    counters: CounterSample | None
    wan_name: str | None
    wan_up: bool | None
    tunnel_state: str | None  # up | down | missing (absent from the device's table)
    requests: int
    credential: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SnmpStatus:
    """The last SNMP outcome of one site's device, and since when it has been so."""

    site: str
    device: str | None  # the gateway's name in the inventory
    ok: bool
    reason: str | None  # why it failed; None when it answered
    since: str  # when this outcome (this very reason) began: stored only when it changes

    def document(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class SnmpChange:
    """An SNMP outcome that changed: a new cause of failure, another one, or a recovery."""

    now: SnmpStatus
    previous: SnmpStatus | None
    together: tuple[str, ...] = ()  # other sites with this very change: one cause, one line

    @property
    def recovered(self) -> bool:
        return self.now.ok and self.previous is not None and not self.previous.ok

    @property
    def message(self) -> str:
        if self.together:
            codes = [self.now.site, *self.together]
            shown = ", ".join(codes[:5]) + (f" y {len(codes) - 5} más" if len(codes) > 5 else "")
            if self.now.ok:
                return f"SNMP: recuperado, responden {len(codes)} equipos ({shown})"
            return f"SNMP: {self.now.reason} (afecta a {len(codes)} equipos: {shown})"
        who = self.now.site + (f" ({self.now.device})" if self.now.device else "")
        if self.now.ok:
            return f"SNMP {who}: recuperado, el equipo responde"
        return f"SNMP {who}: {self.now.reason}"


def track(
    statuses: dict[str, SnmpStatus], polls: Sequence[DevicePoll], devices: Mapping[str, str | None],
    at: str, earlier: Mapping[str, SnmpStatus] | None = None,
) -> list[SnmpChange]:  # fmt: skip
    """Update ``statuses`` with a cycle's polls; the changes worth saying, once per cause.

    A device that answers from the start says nothing; a failure is said when it begins (or is
    first seen by this process) and when its cause changes, and its end once ("recuperado").
    ``earlier``: the outcomes a previous run left: the same outcome keeps their ``since``, and a
    device that failed then and answers now is «recuperado», so no stored failure outlives it.
    """
    changes: list[SnmpChange] = []
    for poll in polls:
        old = statuses.get(poll.site)
        ok = poll.error is None
        before = old or (earlier or {}).get(poll.site)
        same = before is not None and before.ok == ok and before.reason == poll.error
        since = before.since if before is not None and same else at
        new = SnmpStatus(poll.site, devices.get(poll.site), ok, poll.error, since)
        statuses[poll.site] = new
        if (old is None and not ok) or (before is not None and not same):
            changes.append(SnmpChange(new, old if same else before))
    return changes


def by_cause(changes: Sequence[SnmpChange]) -> list[SnmpChange]:
    """One change per cause: the same failure (an open credentials file, say) of many devices,
    or their recovery from it, becomes one change that names them all, in order of appearance."""
    groups: dict[tuple[bool, str | None, str | None], list[SnmpChange]] = {}
    for c in changes:
        was = c.previous.reason if c.now.ok and c.previous is not None else None
        groups.setdefault((c.now.ok, c.now.reason, was), []).append(c)
    return [dataclasses.replace(g[0], together=tuple(c.now.site for c in g[1:]))
            for g in groups.values()]  # fmt: skip


def _text(value: Any) -> str | None:
    return value.decode(errors="replace") if isinstance(value, bytes) else None


def _wan_index(site: Site, walked: dict[str, dict[str, Any]]) -> int | None:
    """The ifIndex holding the management address: ipAddrTable (IPv4), ipAddressTable (IPv6).

    Rows whose index cannot be an address are skipped: they cannot be the one wanted.
    """
    try:
        wanted = ipaddress.ip_address(site.address or "")
    except ValueError:
        return None
    if wanted.version == 4:
        found = walked.get(IP_AD_ENT_IFINDEX, {}).get(str(wanted))
        return found if isinstance(found, int) else None
    for suffix, if_index in walked.get(IP_ADDRESS_IFINDEX, {}).items():
        try:
            address = index_address(suffix)
        except ValueError:
            continue
        if address == wanted and isinstance(if_index, int):
            return if_index
    return None


def _tunnel_row(
    names: Mapping[int, str | None], oper: Mapping[str, Any], wanted: str
) -> int | None:
    """The ifIndex of the tunnel interface: of the rows with its name, one that is up, the newest.

    An OpenVPN or IPsec restart adds a row and the agent may keep the old one, down, under the
    same name (net-snmp without ``interface_replace_old``): the first match would be the stale row.
    """
    rows = [i for i, n in names.items() if n == wanted]
    return max(rows, key=lambda i: (oper.get(str(i)) == OPER_UP, i), default=None)


def _shown(value: Any) -> str:
    return "ausente (noSuchObject)" if value is None else clean_line(repr(value))[:60]


def _counters(got: dict[str, Any], w: int) -> tuple[CounterSample | None, str | None]:
    """The WAN counters of one GET, or None and why (a missing or wrongly typed value)."""
    in_oid, out_oid = f"{IF_HC_IN}.{w}", f"{IF_HC_OUT}.{w}"
    bad = [oid for oid in (SYS_UPTIME, in_oid, out_oid) if not isinstance(got.get(oid), int)]
    if bad:
        what = "; ".join(f"{label(o)} = {_shown(got.get(o))}" for o in bad)
        return None, f"contadores ilegibles (se esperaba un entero): {what}"
    disc, speed = got.get(f"{IF_DISCONTINUITY}.{w}"), got.get(f"{IF_HIGH_SPEED}.{w}")
    return CounterSample(
        uptime_cs=int(got[SYS_UPTIME]),
        in_octets=int(got[in_oid]),
        out_octets=int(got[out_oid]),
        discontinuity=disc if isinstance(disc, int) else None,
        speed_mbps=speed if isinstance(speed, int) and speed > 0 else None,
    ), None


@dataclass(slots=True)
class Poller:
    """Polls many sites; keeps engines (and so SNMPv3 engine discovery) and indexes."""

    timeout_s: float = 2.0
    retries: int = 1
    concurrency: int = 64
    indexes: dict[str, Indexes] = field(default_factory=dict)
    working: dict[str, str] = field(default_factory=dict)  # site -> credential label
    _engines: dict[str, Any] = field(default_factory=dict)
    _creds: dict[str, list[SnmpCredential]] = field(default_factory=dict)
    _file_seen: tuple[int, ...] | None = None  # the credentials file as last read

    def _reread_if_changed(self) -> None:
        """Forget the profiles read when the credentials file changed (its contents, or its
        mode: a chmod during the run), so each cycle polls with what the file says now."""
        try:
            st = secrets.default_credentials_file().stat()
            seen: tuple[int, ...] = (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns)
        except OSError:
            seen = ()
        if seen != self._file_seen:
            self._file_seen = seen
            self._creds.clear()

    def _credentials(self, profile: str) -> list[SnmpCredential]:
        if profile not in self._creds:
            # an unknown profile is the same named error as in discovery, not "no credentials"
            self._creds[profile] = credentials_from_profile(secrets.require_profile(profile))
            for name, engine in engines(self._creds[profile]).items():
                self._engines.setdefault(name, engine)
        return self._creds[profile]

    async def _learn(self, session: Session, site: Site, idx: Indexes) -> dict[str, Any]:
        v6 = ":" in (site.address or "")
        walked = await session.walk(
            [IF_DESCR, IF_OPER, IP_ADDRESS_IFINDEX if v6 else IP_AD_ENT_IFINDEX]
        )
        names = {int(k): _text(v) for k, v in walked[IF_DESCR].items() if k.isdigit()}
        idx.wan = _wan_index(site, walked)
        idx.wan_name = names.get(idx.wan) if idx.wan is not None else None
        wanted = site.vpn_interface or DEFAULT_VPN_INTERFACE
        oper = dict(walked[IF_OPER])
        idx.tunnel = _tunnel_row(names, oper, wanted)
        return oper

    async def _poll(self, session: Session, site: Site) -> DevicePoll:
        idx = self.indexes.setdefault(site.code, Indexes())
        oper_walk: dict[str, Any] | None = None
        if idx.wan is None:
            oper_walk = await self._learn(session, site, idx)
        oids = [SYS_UPTIME]
        if idx.wan is not None:
            w = idx.wan
            oids += [f"{c}.{w}" for c in (IF_DESCR, IF_OPER, IF_HC_IN, IF_HC_OUT, IF_HIGH_SPEED,
                                          IF_DISCONTINUITY)]  # fmt: skip
        if site.vpn_kit and idx.tunnel is not None:
            oids += [f"{IF_DESCR}.{idx.tunnel}", f"{IF_OPER}.{idx.tunnel}"]
        got = await session.get(oids)
        counters, wan_up, why = None, None, None
        if idx.wan is not None:
            w = idx.wan
            if _text(got.get(f"{IF_DESCR}.{w}")) != idx.wan_name:
                self.indexes.pop(site.code, None)  # renumbered: learn again next cycle
            else:
                counters, why = _counters(got, w)
                wan_up = got.get(f"{IF_OPER}.{w}") == OPER_UP
        tunnel_state = None
        if site.vpn_kit:
            wanted = site.vpn_interface or DEFAULT_VPN_INTERFACE
            t = idx.tunnel
            named = t is not None and _text(got.get(f"{IF_DESCR}.{t}")) == wanted
            if named and (got.get(f"{IF_OPER}.{t}") == OPER_UP or oper_walk is not None):
                tunnel_state = "up" if got.get(f"{IF_OPER}.{t}") == OPER_UP else "down"
            else:
                # moved, vanished, or down at its row while a restart may have left a new row
                # of the same name that is up (net-snmp keeps the stale one): one walk tells
                if oper_walk is None:
                    oper_walk = await self._learn(session, site, idx)
                if idx.tunnel is None:
                    tunnel_state = "missing"
                else:
                    up = oper_walk.get(str(idx.tunnel)) == OPER_UP
                    tunnel_state = "up" if up else "down"
        return DevicePoll(site.code, counters, idx.wan_name, wan_up, tunnel_state,
                          session.requests, session.cred.label, error=why)  # fmt: skip

    async def _one(self, site: Site, limit: asyncio.Semaphore) -> DevicePoll:
        async with limit:
            if not site.address or not site.credential_profile:
                why = "sin dirección de gestión"
                if site.address:
                    device = f"el equipo {site.gateway}" if site.gateway else "su pasarela"
                    why = (f"sin credenciales: {device} no tiene perfil de credenciales "
                           "(credential_profile) en el inventario")  # fmt: skip
                return DevicePoll(site.code, None, None, None, None, 0, error=why)
            try:
                creds = self._credentials(site.credential_profile)
            except (SecretsError, DeviceError) as e:
                return DevicePoll(site.code, None, None, None, None, 0, error=str(e))
            except Exception as e:  # an unreadable profile: this device's error, not the cycle's
                name = site.credential_profile
                why = f"perfil de credenciales «{name}» ilegible ({type(e).__name__})"
                if isinstance(e, OSError):
                    why += f": {os_reason(e)}"
                return DevicePoll(site.code, None, None, None, None, 0, error=why)
            first = self.working.get(site.code)
            ordered = sorted(creds, key=lambda c: c.label != first)
            requests, error = 0, "sin credenciales SNMP en el perfil"
            for cred in ordered:
                session = Session(self._engines[cred.label], cred, site.address)
                try:
                    await session.open(self.timeout_s, self.retries)
                    poll = await self._poll(session, site)
                except AuthError as e:
                    requests += session.requests
                    error = str(e)
                    continue
                except DeviceError as e:  # timeouts included: the device, not the credential
                    return DevicePoll(site.code, None, None, None, None,
                                      requests + session.requests, error=str(e))  # fmt: skip
                except Exception as e:  # one odd answer is this device's error, never the cycle's
                    why = f"respuesta SNMP inesperada ({type(e).__name__}): {clean_line(str(e))[:200]}"
                    return DevicePoll(site.code, None, None, None, None,
                                      requests + session.requests, error=why)  # fmt: skip
                self.working[site.code] = cred.label
                return dataclasses.replace(poll, requests=requests + poll.requests)
            return DevicePoll(site.code, None, None, None, None, requests, error=error)

    async def close(self) -> None:
        """Stop every engine's transport (call inside the loop that used them)."""
        for engine in self._engines.values():
            engine.close_dispatcher()
        await asyncio.sleep(0)

    async def cycle(self, sites: Sequence[Site]) -> list[DevicePoll]:
        limit = asyncio.Semaphore(self.concurrency)
        self._reread_if_changed()
        return list(await asyncio.gather(*(self._one(s, limit) for s in sites)))
