"""A minimal SMBIOS 3.0 table so that each lab site has its own hardware identity.

Inside a site's sshd, ``/sys/firmware/dmi/tables`` is a private tmpfs holding this table,
so the real ``dmidecode`` run over SSH reports the site's manufacturer, model and serial,
the way it would on a physical server.
"""

from __future__ import annotations

import struct
import uuid

_HEADER = struct.Struct("<BBH")


def _checksum(data: bytes) -> int:
    return (-sum(data)) & 0xFF


def _structure(kind: int, handle: int, formatted: bytes, strings: list[str]) -> bytes:
    body = _HEADER.pack(kind, _HEADER.size + len(formatted), handle) + formatted
    text = b"".join(s.encode("ascii") + b"\0" for s in strings) or b"\0"
    return body + text + b"\0"


def system_table(manufacturer: str, product: str, version: str, serial: str) -> bytes:
    """SMBIOS structure table: one System Information (type 1) and End of Table (127)."""
    ident = uuid.uuid5(uuid.NAMESPACE_OID, f"pukara-lab/{serial}")
    # string numbers 1..4, UUID, wake-up type 6 (power switch), SKU 0, family 0
    formatted = bytes([1, 2, 3, 4]) + ident.bytes_le + bytes([6, 0, 0])
    return _structure(1, 0x0100, formatted, [manufacturer, product, version, serial]) + (
        _structure(127, 0xFEFF, b"", [])
    )


def entry_point(table: bytes) -> bytes:
    """The 24-byte SMBIOS 3.0 entry point (``_SM3_``) describing ``table``."""
    head = struct.pack("<5sBBBBBBBIQ", b"_SM3_", 0, 0x18, 3, 0, 0, 1, 0, len(table), 0)
    return head[:5] + bytes([_checksum(head)]) + head[6:]
