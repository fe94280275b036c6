"""SNMP discovery: the credential ladder per agent, one GET and one multi-table GETBULK walk.

Per agent: the system group and the ENTITY-MIB, IF-MIB, IP-MIB and LLDP-MIB columns in
one walk whose first GETBULK carries the system scalars as non-repeaters (usually a single
round trip for a small device), IP-MIB's legacy ipAddrTable only when the agent lacks
ipAddressTable. Credentials are tried in order; the first that answers is kept.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inventario.model import valid_serial
from pukara import oids
from pukara.errors import AuthError, DeviceError, DeviceTimeout
from pukara.events import utc_now
from pukara.results import Result, Status
from pukara.snmp import (
    MalformedAnswer,
    Session,
    SnmpCredential,
    engines,
    index_address,
    legacy_index_address,
)
from pukara.text import clean_line

_OS_PATTERNS = (
    (re.compile(r"^Linux \S+ (\S+)"), "Linux"),
    (re.compile(r"Cisco IOS XE Software.*?Version ([\w.()]+)", re.S), "IOS XE"),
    (re.compile(r"Cisco IOS Software.*?Version ([\w.()]+)", re.S), "IOS"),
    (re.compile(r"Cisco NX-OS.*?Version ([\w.()]+)", re.S), "NX-OS"),
    (re.compile(r"JUNOS ([\w.-]+)"), "Junos"),
    (re.compile(r"Windows.*Version ([\d.]+)"), "Windows"),
    (re.compile(r"^FreeBSD \S+ (\S+)"), "FreeBSD"),
)


TABLES = oids.ENTITY + oids.INTERFACES + oids.ADDRESSES + oids.LLDP


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    address: str
    credentials: Sequence[SnmpCredential]


Walked = Mapping[str, Mapping[str, Any]]


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    cleaned = str(value).replace("\x00", "").strip()
    return cleaned or None


def _mac(value: Any) -> str | None:
    if not isinstance(value, bytes) or len(value) != 6 or not any(value):
        return None
    return ":".join(f"{b:02x}" for b in value)


def _int(walked: Walked, column: str, index: str) -> int | None:
    """An INTEGER/Gauge column's value; a value of another type fails the target."""
    value = walked.get(column, {}).get(index)
    if value is None or isinstance(value, int):
        return value
    raise MalformedAnswer(column, f"se esperaba un entero y llegó {value!r}", index)


@contextmanager
def _reading(column: str, index: str | None = None) -> Iterator[None]:
    """Any parsing error of one value becomes a MalformedAnswer naming its object."""
    try:
        yield
    except MalformedAnswer:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
        raise MalformedAnswer(column, str(e) or type(e).__name__, index) from e


def os_from_descr(descr: str | None) -> tuple[str | None, str | None]:
    if not descr:
        return None, None
    for pattern, name in _OS_PATTERNS:
        m = pattern.search(descr)
        if m:
            return name, m.group(1).rstrip(",")
    return None, None


def _entity_index(walked: Walked, column: str) -> list[str]:
    out = []
    for index in walked[column]:
        with _reading(column, index):
            if not index.isdigit():
                raise ValueError("entPhysicalIndex debe ser un solo entero")
        out.append(index)
    return sorted(out, key=int)


def _entity(walked: Walked) -> dict[str, Any]:
    rows = _entity_index(walked, oids.ENT_CLASS) or _entity_index(walked, oids.ENT_SERIAL)
    chassis = [i for i in rows if _int(walked, oids.ENT_CLASS, i) == oids.ENT_CLASS_CHASSIS]
    serials = [s for i in chassis if (s := valid_serial(walked[oids.ENT_SERIAL].get(i)))]
    out: dict[str, Any] = {}
    first = chassis[0] if chassis else (rows[0] if rows else None)
    if first is not None:
        out["vendor"] = text(walked[oids.ENT_MFG].get(first))
        out["model"] = text(walked[oids.ENT_MODEL].get(first)) or text(
            walked[oids.ENT_DESCR].get(first)
        )
    if not serials:  # no chassis serial: take the first real one of any component
        serials = [s for i in rows if (s := valid_serial(walked[oids.ENT_SERIAL].get(i)))][:1]
    if serials:
        out["serial"] = serials[0]
    if len(serials) > 1:
        out["stack_serials"] = serials
    return out


def _interfaces(walked: Walked) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for index in walked[oids.IF_DESCR].keys() | walked[oids.IF_NAME].keys():
        with _reading(oids.IF_DESCR, index):
            number = int(index)
        out[index] = {
            "index": number,
            "name": text(walked[oids.IF_NAME].get(index)) or text(walked[oids.IF_DESCR].get(index)),
            "type": _int(walked, oids.IF_TYPE, index),
            "mtu": _int(walked, oids.IF_MTU, index),
            "mac": _mac(walked[oids.IF_MAC].get(index)),
            "up": walked[oids.IF_OPER].get(index) == 1,
            "speed_mbps": _int(walked, oids.IF_HIGH_SPEED, index),
        }
    return out


def _prefix_length(pointer: Any) -> int | None:
    """ipAddressPrefix is a RowPointer whose last sub-identifier is the prefix length."""
    if pointer is None or pointer in ("0.0", "0.0.0"):
        return None
    if not isinstance(pointer, str):
        raise ValueError(f"se esperaba un OID (RowPointer) y llegó {pointer!r}")
    return int(pointer.rsplit(".", 1)[-1])


def _addresses(walked: Walked, interfaces: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for suffix in walked.get(oids.IP_ADDRESS_IFINDEX, {}):
        with _reading(oids.IP_ADDRESS_IFINDEX, suffix):
            address = index_address(suffix)
        if_index = _int(walked, oids.IP_ADDRESS_IFINDEX, suffix)
        with _reading(oids.IP_ADDRESS_PREFIX, suffix):
            plen = _prefix_length(walked[oids.IP_ADDRESS_PREFIX].get(suffix))
        if address is not None:
            out.append((address, plen, if_index))
    for suffix in walked.get(oids.IP_AD_ENT_IFINDEX, {}):
        with _reading(oids.IP_AD_ENT_IFINDEX, suffix):
            legacy = legacy_index_address(suffix)
        if_index = _int(walked, oids.IP_AD_ENT_IFINDEX, suffix)
        mask = walked[oids.IP_AD_ENT_MASK].get(suffix)
        plen = bin(int.from_bytes(mask, "big")).count("1") if isinstance(mask, bytes) else None
        out.append((legacy, plen, if_index))
    records = []
    for address, plen, if_index in sorted(out, key=lambda a: (a[0].version, a[0])):
        if address.is_loopback or address.is_link_local:
            continue
        interface = interfaces.get(str(if_index), {})
        records.append({"ip": str(address), "prefix_len": plen, "interface": interface.get("name")})
    return records


def _neighbours(walked: Walked) -> list[dict[str, Any]]:
    out = []
    for suffix, name in walked[oids.LLDP_REM_SYSNAME].items():
        parts = suffix.split(".")
        local = parts[1] if len(parts) == 3 else None
        port = walked[oids.LLDP_REM_PORT].get(suffix)
        chassis = walked[oids.LLDP_REM_CHASSIS].get(suffix)
        out.append({
            "protocol": "lldp",
            "local_port": text(walked[oids.LLDP_LOC_PORT].get(local)) if local else None,
            "remote_name": text(name),
            "remote_port": text(port),
            "remote_chassis": _mac(chassis) or text(chassis),
        })  # fmt: skip
    return sorted(out, key=lambda n: (n["local_port"] or "", n["remote_name"] or ""))


def parse(system: Mapping[str, Any], walked: Walked) -> dict[str, Any]:
    """Facts from the raw values, in pukara's source-independent shape.

    A value or index that cannot be what its object is raises MalformedAnswer naming it.
    """
    descr = text(system.get(oids.SYS_DESCR))
    sys_object_id = system.get(oids.SYS_OBJECT_ID)
    if sys_object_id is not None and not isinstance(sys_object_id, str):
        raise MalformedAnswer(oids.SYS_OBJECT_ID, f"se esperaba un OID y llegó {sys_object_id!r}")
    vendor, model = oids.identify(sys_object_id)
    os_name, os_version = os_from_descr(descr)
    interfaces = _interfaces(walked)
    facts: dict[str, Any] = {
        "name": text(system.get(oids.SYS_NAME)),
        "description": descr,
        "location": text(system.get(oids.SYS_LOCATION)),
        "sys_object_id": sys_object_id,
        "vendor": vendor,
        "model": model,
        "os": os_name,
        "os_version": os_version,
    }
    entity = _entity(walked)
    facts.update({k: v for k, v in entity.items() if v})
    facts["interfaces"] = sorted(interfaces.values(), key=lambda i: i["index"])
    facts["addresses"] = _addresses(walked, interfaces)
    facts["neighbours"] = _neighbours(walked)
    return {k: v for k, v in facts.items() if v not in (None, [], "")}


async def probe(
    target: SnmpTarget, engine_for: Mapping[str, Any], timeout_s: float, retries: int
) -> tuple[dict[str, Any], SnmpCredential, int | None]:
    """Facts, the credential that worked and sysUpTime (hundredths of a second)."""
    failures: list[DeviceError] = []
    for cred in target.credentials:
        session = Session(engine_for[cred.label], cred, target.address)
        await session.open(timeout_s, retries)
        try:  # the first request is also the credential's test
            system, walked = await session.fetch(oids.SYSTEM, TABLES)
        except DeviceError as e:
            failures.append(e)
            continue
        if not walked[oids.IP_ADDRESS_IFINDEX]:
            walked.update(await session.walk(oids.LEGACY_ADDRESSES))
        uptime = system.get(oids.SYS_UPTIME)
        facts = parse(system, walked)
        try:
            json.dumps(facts)
        except (TypeError, ValueError) as e:  # a value of a type no field should hold
            raise DeviceError(f"respuesta SNMP con valores no representables: {e}") from e
        return facts, cred, uptime if isinstance(uptime, int) else None
    if not target.credentials:
        raise DeviceError("no hay credenciales SNMP para este objetivo")
    reasons = "; ".join(str(f) for f in failures)
    if any(isinstance(f, AuthError) for f in failures):
        raise AuthError(reasons)
    if all(isinstance(f, DeviceTimeout) for f in failures):
        raise DeviceTimeout(reasons)
    raise DeviceError(reasons)


def _failed(target: SnmpTarget, error: str, started: datetime) -> Result:
    return Result(target.address, Status.FAILED, error=error, started_at=started,
                  finished_at=utc_now())  # fmt: skip


def discover(
    targets: Sequence[SnmpTarget],
    *,
    concurrency: int,
    timeout_s: float,
    retries: int = 2,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Probe every target; one Result each (the error text for those that failed)."""

    async def run() -> list[Result]:
        creds = {c.label: c for t in targets for c in t.credentials}
        engine_for = engines(list(creds.values()))
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(target: SnmpTarget) -> Result:
            async with gate:
                started = utc_now()
                try:
                    facts, cred, uptime = await probe(target, engine_for, timeout_s, retries)
                    result = Result(
                        target.address, Status.OK,
                        data={"facts": facts, "credential": cred.label, "uptime_ticks": uptime},
                        started_at=started, finished_at=utc_now(),
                    )  # fmt: skip
                except DeviceError as e:
                    result = _failed(target, str(e), started)
                except Exception as e:
                    why = clean_line(str(e))[:200] or "sin detalle"
                    error = f"respuesta SNMP inesperada ({type(e).__name__}): {why}"
                    result = _failed(target, error, started)
                if on_result:
                    on_result(result)
                return result

        try:
            return list(await asyncio.gather(*(one(t) for t in targets)))
        finally:
            for engine in engine_for.values():
                engine.close_dispatcher()

    return asyncio.run(run())
