"""One SNMP GET per device per cycle: WAN counters and the VPN kit's tunnel state.

Interface indexes are learnt once (a multi-column walk of ifDescr, ifOperStatus and the
IPv4 address table, to find the interface holding the management address) and kept; each
cycle is then a single GET of known instances. When the tunnel's interface is no longer at
its index (an OpenVPN or IPsec restart gives it a new one), one walk finds it again, or finds
it missing: a tunnel missing from the device's table is down, not unknown.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from inventario.snmp import Session, SnmpCredential, credentials_from_profile, engines
from monitoreo.counters import CounterSample
from monitoreo.sites import Site
from pukara import secrets
from pukara.errors import AuthError, DeviceError, SecretsError

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT = "1.3.6.1.2.1.31.1.1.1.10"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
IF_DISCONTINUITY = "1.3.6.1.2.1.31.1.1.1.19"
IP_AD_IFINDEX = "1.3.6.1.2.1.4.20.1.2"
OPER_UP = 1
DEFAULT_VPN_INTERFACE = "kbcs0"


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


def _text(value: Any) -> str | None:
    return value.decode(errors="replace") if isinstance(value, bytes) else None


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

    def _credentials(self, profile: str) -> list[SnmpCredential]:
        if profile not in self._creds:
            self._creds[profile] = credentials_from_profile(secrets.load_profile(profile))
            for label, engine in engines(self._creds[profile]).items():
                self._engines.setdefault(label, engine)
        return self._creds[profile]

    async def _learn(self, session: Session, site: Site, idx: Indexes) -> dict[str, Any]:
        walked = await session.walk([IF_DESCR, IF_OPER, IP_AD_IFINDEX])
        names = {int(k): _text(v) for k, v in walked[IF_DESCR].items()}
        if site.address and site.address in walked[IP_AD_IFINDEX]:
            idx.wan = int(walked[IP_AD_IFINDEX][site.address])
            idx.wan_name = names.get(idx.wan)
        wanted = site.vpn_interface or DEFAULT_VPN_INTERFACE
        idx.tunnel = next((i for i, n in names.items() if n == wanted), None)
        return {str(i): v for i, v in walked[IF_OPER].items()}

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
        counters, wan_up = None, None
        if idx.wan is not None:
            w = idx.wan
            if _text(got.get(f"{IF_DESCR}.{w}")) != idx.wan_name:
                self.indexes.pop(site.code, None)  # renumbered: learn again next cycle
            elif isinstance(got.get(f"{IF_HC_IN}.{w}"), int):
                disc = got.get(f"{IF_DISCONTINUITY}.{w}")
                counters = CounterSample(
                    uptime_cs=int(got[SYS_UPTIME]),
                    in_octets=int(got[f"{IF_HC_IN}.{w}"]),
                    out_octets=int(got[f"{IF_HC_OUT}.{w}"]),
                    discontinuity=disc if isinstance(disc, int) else None,
                    speed_mbps=got.get(f"{IF_HIGH_SPEED}.{w}") or None,
                )
                wan_up = got.get(f"{IF_OPER}.{w}") == OPER_UP
        tunnel_state = None
        if site.vpn_kit:
            wanted = site.vpn_interface or DEFAULT_VPN_INTERFACE
            t = idx.tunnel
            if t is not None and _text(got.get(f"{IF_DESCR}.{t}")) == wanted:
                tunnel_state = "up" if got.get(f"{IF_OPER}.{t}") == OPER_UP else "down"
            else:
                if oper_walk is None:  # it moved or vanished: one walk tells which
                    oper_walk = await self._learn(session, site, idx)
                if idx.tunnel is None:
                    tunnel_state = "missing"
                else:
                    up = oper_walk.get(str(idx.tunnel)) == OPER_UP
                    tunnel_state = "up" if up else "down"
        return DevicePoll(site.code, counters, idx.wan_name, wan_up, tunnel_state,
                          session.requests, session.cred.label)  # fmt: skip

    async def _one(self, site: Site, limit: asyncio.Semaphore) -> DevicePoll:
        async with limit:
            if not site.address or not site.credential_profile:
                why = (
                    "sin dirección de gestión" if not site.address else "sin perfil de credenciales"
                )
                return DevicePoll(site.code, None, None, None, None, 0, error=why)
            try:
                creds = self._credentials(site.credential_profile)
            except (SecretsError, DeviceError) as e:
                return DevicePoll(site.code, None, None, None, None, 0, error=str(e))
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
        return list(await asyncio.gather(*(self._one(s, limit) for s in sites)))
