"""A small asyncio SNMP client on pysnmp 7: GET and multi-column GETBULK walks by numeric OID.

No MIB files are loaded (``lookupMib=False``). Each credential gets its own SnmpEngine so
that two v3 profiles with the same user name and different keys never overwrite each other.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pysnmp.entity import config
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmDESPrivProtocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACMD5AuthProtocol,
    usmHMACSHAAuthProtocol,
)
from pysnmp.proto import rfc1902, rfc1905

from pukara import oids
from pukara.errors import AuthError, DeviceError, DeviceTimeout
from pukara.secrets import CredentialProfile, Secret
from pukara.text import clean_line

AUTH = {"SHA": usmHMACSHAAuthProtocol, "SHA256": usmHMAC192SHA256AuthProtocol,
        "SHA512": usmHMAC384SHA512AuthProtocol, "MD5": usmHMACMD5AuthProtocol}  # fmt: skip
PRIV = {"AES": usmAesCfb128Protocol, "AES256": usmAesCfb256Protocol, "DES": usmDESPrivProtocol}
_AUTH_FAILURES = ("unknownusername", "wrongdigest", "decryption", "unsupportedsecuritylevel",
                  "authentication", "notintimewindow", "unknownengineid")  # fmt: skip
_END = (rfc1905.EndOfMibView, rfc1905.NoSuchObject, rfc1905.NoSuchInstance)
MAX_WALK_REQUESTS = 200
RECEIVE_BUFFER = 4 << 20  # bytes asked for each engine's socket
FIRST_REPETITIONS = 8


class MalformedAnswer(DeviceError):
    """An agent's value or index that cannot be what its object is: that target fails."""

    def __init__(self, oid: str, why: str, index: str | None = None) -> None:
        where = oids.label(f"{oid}.{index}" if index else oid)
        super().__init__(f"respuesta SNMP mal formada en {where}: {clean_line(why)[:200]}")
        self.oid = oid


def index_address(suffix: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in an ipAddressTable index (``type.length.octets``); None for other types.

    ValueError (in Spanish) when the index cannot be an address: a sub-identifier over 255,
    a length that does not match the octets that follow.
    """
    try:
        parts = [int(p) for p in suffix.split(".") if p]
    except ValueError:
        raise ValueError(f"el índice {suffix!r} no es numérico") from None
    if len(parts) < 2:
        raise ValueError("índice sin tipo ni longitud de dirección")
    kind, length, octets = parts[0], parts[1], parts[2:]
    if len(octets) != length:
        raise ValueError(f"la longitud {length} no coincide con {len(octets)} octetos")
    big = [p for p in octets if p > 255]
    if big:
        raise ValueError(f"el subidentificador {big[0]} no cabe en un octeto (> 255)")
    if kind in (1, 3) and length >= 4:  # ipv4, ipv4z (zone index after the address)
        return ipaddress.IPv4Address(bytes(octets[:4]))
    if kind in (2, 4) and length >= 16:  # ipv6, ipv6z
        return ipaddress.IPv6Address(bytes(octets[:16]))
    return None


def legacy_index_address(suffix: str) -> ipaddress.IPv4Address:
    """The address that is an ipAddrTable index (four sub-identifiers); ValueError if not."""
    parts = suffix.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        raise ValueError(f"el índice {suffix!r} no es una dirección IPv4 (cuatro octetos ≤ 255)")
    return ipaddress.IPv4Address(suffix)


@dataclass(frozen=True, slots=True)
class SnmpCredential:
    """One way to talk to an agent: v2c community or v3 authPriv user, from a profile."""

    profile: str
    version: str  # "2c" or "3"
    community: Secret | None = None
    user: str | None = None
    auth_key: Secret | None = None
    priv_key: Secret | None = None
    auth_proto: str = "SHA"
    priv_proto: str = "AES"

    @property
    def label(self) -> str:
        return f"{self.profile}/v3" if self.version == "3" else f"{self.profile}/v2c"

    def auth_data(self) -> CommunityData | UsmUserData:
        if self.version == "2c" and self.community is not None:
            # v2c only when a profile holds a community; v3 is tried before it
            return CommunityData(self.community.reveal(), mpModel=1)  # noqa: S508
        if not (self.user and self.auth_key and self.priv_key):
            raise DeviceError(f"perfil «{self.profile}»: credencial SNMP incompleta")
        return UsmUserData(
            self.user,
            authKey=self.auth_key.reveal(),
            privKey=self.priv_key.reveal(),
            authProtocol=AUTH[self.auth_proto],
            privProtocol=PRIV[self.priv_proto],
        )


def credentials_from_profile(profile: CredentialProfile) -> list[SnmpCredential]:
    """v3 first (it is authenticated and encrypted), then v2c, for what the profile holds."""
    out: list[SnmpCredential] = []
    user = profile.get("snmp_user")
    if user:
        auth, priv = profile.get("auth_key"), profile.get("priv_key")
        if not (auth and priv):
            raise DeviceError(
                f"perfil «{profile.name}»: SNMPv3 necesita auth_key y priv_key (solo authPriv)"
            )
        auth_proto = (profile.get("auth_proto") or Secret("SHA")).reveal().upper()
        priv_proto = (profile.get("priv_proto") or Secret("AES")).reveal().upper()
        if auth_proto not in AUTH or priv_proto not in PRIV:
            raise DeviceError(f"perfil «{profile.name}»: protocolo SNMPv3 desconocido")
        out.append(SnmpCredential(profile.name, "3", user=user.reveal(), auth_key=auth,
                                  priv_key=priv, auth_proto=auth_proto, priv_proto=priv_proto))  # fmt: skip
    community = profile.get("community")
    if community:
        out.append(SnmpCredential(profile.name, "2c", community=community))
    return out


def convert(value: Any) -> Any:
    """pysnmp value -> bytes, int or dotted OID string; None for end-of-view markers."""
    if isinstance(value, _END):
        return None
    if isinstance(value, rfc1902.ObjectIdentifier):
        return str(value)
    if isinstance(value, rfc1902.OctetString) or hasattr(value, "asOctets"):
        return bytes(value.asOctets())
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


class Session:
    """One agent reached with one credential."""

    def __init__(self, engine: SnmpEngine, cred: SnmpCredential, address: str) -> None:
        self.engine = engine
        self.cred = cred
        self.address = address
        self._auth = cred.auth_data()
        self._transport: UdpTransportTarget | Udp6TransportTarget | None = None
        self.requests = 0  # GET and GETBULK requests sent (each one round trip)

    async def open(self, timeout_s: float, retries: int) -> None:
        ip = ipaddress.ip_address(self.address)
        cls = Udp6TransportTarget if ip.version == 6 else UdpTransportTarget
        await _engine_socket(self.engine, cls)
        self._transport = await cls.create((str(ip), 161), timeout=timeout_s, retries=retries)

    def _check(self, indication: Any, status: Any, index: Any) -> None:
        if indication:
            text = str(indication)
            name = type(indication).__name__.lower() + " " + text.lower()
            if "timedout" in name or "timeout" in name:
                raise DeviceTimeout(f"sin respuesta SNMP con {self.cred.label} (tiempo agotado)")
            if any(k in name.replace(" ", "") for k in _AUTH_FAILURES):
                raise AuthError(f"credencial SNMP rechazada ({self.cred.label}): {text}")
            raise DeviceError(f"error SNMP con {self.cred.label}: {text}")
        if status:
            raise DeviceError(f"el agente respondió {status.prettyPrint()} (índice {index})")

    def _target(self) -> UdpTransportTarget | Udp6TransportTarget:
        if self._transport is None:
            raise DeviceError("sesión SNMP sin abrir")
        return self._transport

    async def get(self, oids: Sequence[str]) -> dict[str, Any]:
        self.requests += 1
        indication, status, index, binds = await get_cmd(
            self.engine, self._auth, self._target(), ContextData(),
            *(_object(o) for o in oids), lookupMib=False,
        )  # fmt: skip
        self._check(indication, status, index)
        return {str(oid): convert(value) for oid, value in binds}

    async def walk(
        self, columns: Sequence[str], *, repetitions: int = 20
    ) -> dict[str, dict[str, Any]]:
        """Walk several table columns together; ``{column: {index suffix: value}}``."""
        return (await self.fetch((), columns, repetitions=repetitions))[1]

    async def fetch(
        self,
        scalars: Sequence[str],
        columns: Sequence[str],
        *,
        first: int = FIRST_REPETITIONS,
        repetitions: int = 40,
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Scalar instances and table columns, the scalars riding the first GETBULK.

        Scalars (``sysName.0``...) go as non-repeaters: a GETNEXT of their parent, so a
        device's system group and its first table rows come back in one round trip. The first
        request asks few repetitions: most devices' tables are short, and whatever a response
        carries past a column's end is other columns' rows to decode and drop (agents also cap
        a response, net-snmp at 100 values). Each further request, for the columns still
        pending, doubles the repetitions up to ``repetitions``.
        """
        values: dict[str, Any] = {}
        out: dict[str, dict[str, Any]] = {c: {} for c in columns}
        cursor = {c: c for c in columns}
        heads = [o.rsplit(".", 1)[0] for o in scalars]
        reps = first
        for _ in range(MAX_WALK_REQUESTS):
            pending = list(cursor)
            if not pending and not heads:
                return values, out
            self.requests += 1
            indication, status, index, binds = await bulk_cmd(
                self.engine, self._auth, self._target(), ContextData(), len(heads), reps,
                *(_object(o) for o in heads), *(_object(cursor[c]) for c in pending),
                lookupMib=False,
            )  # fmt: skip
            self._check(indication, status, index)
            binds = list(binds)
            for wanted, (oid, value) in zip(scalars, binds[: len(heads)], strict=False):
                found = str(oid) == wanted and not isinstance(value, _END)
                values[wanted] = convert(value) if found else None
            binds, heads = binds[len(heads) :], []
            if not binds or not pending:
                return values, out
            done: set[str] = set()
            for i, (oid, value) in enumerate(binds):
                column = pending[i % len(pending)]
                if column in done:
                    continue
                text = str(oid)
                if value is None or isinstance(value, _END) or not text.startswith(column + "."):
                    done.add(column)
                    continue
                if _oid_key(text) <= _oid_key(cursor[column]):
                    raise DeviceError(f"el agente devolvió OID fuera de orden en {column}")
                out[column][text[len(column) + 1 :]] = convert(value)
                cursor[column] = text
            for column in done:
                cursor.pop(column, None)
            reps = min(repetitions, reps * 2)
        raise DeviceError("el recorrido SNMP no terminó (demasiadas solicitudes)")


async def _engine_socket(
    engine: SnmpEngine, cls: type[UdpTransportTarget | Udp6TransportTarget]
) -> None:
    """The engine's one UDP socket for this family, made with a large receive buffer.

    Every agent's answers to one engine arrive on one socket; with dozens in flight and the
    event loop busy decoding, the default buffer (208 KiB) overflows and the kernel drops
    answers, each then costing a full timeout. pysnmp uses a transport already registered
    for the domain, so registering it first is enough; sessions opened meanwhile wait for
    it. The kernel caps the size at ``net.core.rmem_max``; a failure leaves the default.
    """
    ready: dict[Any, asyncio.Future[None]] = engine.cache.setdefault("pukara_sockets", {})
    if cls.TRANSPORT_DOMAIN in ready:
        await ready[cls.TRANSPORT_DOMAIN]
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ready[cls.TRANSPORT_DOMAIN] = done
    try:
        if config.get_transport(engine, cls.TRANSPORT_DOMAIN) is None:
            carrier = cls.PROTO_TRANSPORT().open_client_mode()
            try:
                endpoint, _ = await carrier._lport  # the datagram endpoint being made
                endpoint.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER
                )
            except (AttributeError, TypeError, ValueError, OSError):
                pass  # the socket keeps the default buffer
            config.add_transport(engine, cls.TRANSPORT_DOMAIN, carrier)
    finally:
        done.set_result(None)


@lru_cache(maxsize=2048)
def _object(oid: str) -> ObjectType:
    """One request object per OID, resolved once by pysnmp and reused by every request.

    pysnmp resolves each ObjectType against its MIB view before sending it, even for numeric
    OIDs; a resolved one is marked clean and skips that work (a sixth of discovery's CPU).
    """
    return ObjectType(ObjectIdentity(oid))


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split(".") if p)


def engines(creds: Sequence[SnmpCredential]) -> Mapping[str, SnmpEngine]:
    return {c.label: SnmpEngine() for c in creds}
