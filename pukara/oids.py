"""Numeric OIDs pukara reads, and vendor/model by sysObjectID (longest prefix wins)."""

from __future__ import annotations

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_CONTACT = "1.3.6.1.2.1.1.4.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
SYSTEM = (SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_CONTACT, SYS_NAME, SYS_LOCATION)

_ENT = "1.3.6.1.2.1.47.1.1.1.1"
ENT_DESCR, ENT_CLASS, ENT_SERIAL = f"{_ENT}.2", f"{_ENT}.5", f"{_ENT}.11"
ENT_MFG, ENT_MODEL, ENT_SOFTWARE = f"{_ENT}.12", f"{_ENT}.13", f"{_ENT}.10"
ENTITY = (ENT_DESCR, ENT_CLASS, ENT_SOFTWARE, ENT_SERIAL, ENT_MFG, ENT_MODEL)
ENT_CLASS_CHASSIS = 3

IF_DESCR, IF_TYPE, IF_MTU = "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.3", "1.3.6.1.2.1.2.2.1.4"
IF_MAC, IF_OPER = "1.3.6.1.2.1.2.2.1.6", "1.3.6.1.2.1.2.2.1.8"
IF_NAME, IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.15"
INTERFACES = (IF_DESCR, IF_TYPE, IF_MTU, IF_MAC, IF_OPER, IF_NAME, IF_HIGH_SPEED)

IP_ADDRESS_IFINDEX = "1.3.6.1.2.1.4.34.1.3"  # ipAddressTable (v4 and v6)
IP_ADDRESS_PREFIX = "1.3.6.1.2.1.4.34.1.5"
IP_AD_ENT_IFINDEX = "1.3.6.1.2.1.4.20.1.2"  # legacy ipAddrTable (IPv4 only)
IP_AD_ENT_MASK = "1.3.6.1.2.1.4.20.1.3"
ADDRESSES = (IP_ADDRESS_IFINDEX, IP_ADDRESS_PREFIX)
LEGACY_ADDRESSES = (IP_AD_ENT_IFINDEX, IP_AD_ENT_MASK)

LLDP_REM_CHASSIS = "1.0.8802.1.1.2.1.4.1.1.5"
LLDP_REM_PORT = "1.0.8802.1.1.2.1.4.1.1.7"
LLDP_REM_SYSNAME = "1.0.8802.1.1.2.1.4.1.1.9"
LLDP_LOC_PORT = "1.0.8802.1.1.2.1.3.7.1.3"
LLDP = (LLDP_REM_CHASSIS, LLDP_REM_PORT, LLDP_REM_SYSNAME, LLDP_LOC_PORT)

# WAN counters polled by monitoring (IF-MIB ifXTable)
IF_HC_IN, IF_HC_OUT = "1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.10"
IF_DISCONTINUITY = "1.3.6.1.2.1.31.1.1.1.19"

# Object names for messages: a user reads "ifHCInOctets", not only digits
NAMES = {
    SYS_DESCR: "sysDescr", SYS_OBJECT_ID: "sysObjectID", SYS_UPTIME: "sysUpTime",
    SYS_CONTACT: "sysContact", SYS_NAME: "sysName", SYS_LOCATION: "sysLocation",
    ENT_DESCR: "entPhysicalDescr", ENT_CLASS: "entPhysicalClass",
    ENT_SERIAL: "entPhysicalSerialNum", ENT_MFG: "entPhysicalMfgName",
    ENT_MODEL: "entPhysicalModelName", ENT_SOFTWARE: "entPhysicalSoftwareRev",
    IF_DESCR: "ifDescr", IF_TYPE: "ifType", IF_MTU: "ifMtu", IF_MAC: "ifPhysAddress",
    IF_OPER: "ifOperStatus", IF_NAME: "ifName", IF_HIGH_SPEED: "ifHighSpeed",
    IF_HC_IN: "ifHCInOctets", IF_HC_OUT: "ifHCOutOctets",
    IF_DISCONTINUITY: "ifCounterDiscontinuityTime",
    IP_ADDRESS_IFINDEX: "ipAddressIfIndex", IP_ADDRESS_PREFIX: "ipAddressPrefix",
    IP_AD_ENT_IFINDEX: "ipAdEntIfIndex", IP_AD_ENT_MASK: "ipAdEntNetMask",
    LLDP_REM_CHASSIS: "lldpRemChassisId", LLDP_REM_PORT: "lldpRemPortId",
    LLDP_REM_SYSNAME: "lldpRemSysName", LLDP_LOC_PORT: "lldpLocPortId",
}  # fmt: skip


def label(oid: str) -> str:
    """``ifHCInOctets (1.3.6.1.2.1.31.1.1.1.6)`` for a column or one of its instances."""
    for column, name in NAMES.items():
        if oid == column:
            return f"{name} ({oid})"
        if oid.startswith(column + "."):
            return f"{name}.{oid[len(column) + 1 :]} ({oid})"
    return oid


# sysObjectID prefix -> (vendor, model or None). Enterprise numbers from IANA's registry.
SYS_OBJECT_IDS: dict[str, tuple[str, str | None]] = {
    "1.3.6.1.4.1.9": ("Cisco", None),
    "1.3.6.1.4.1.9.1.1208": ("Cisco", "Catalyst 2960-X"),
    "1.3.6.1.4.1.9.1.2494": ("Cisco", "Catalyst 9300"),
    "1.3.6.1.4.1.9.1.2066": ("Cisco", "ASR 1001-X"),
    "1.3.6.1.4.1.9.12.3.1.3": ("Cisco", "Nexus"),
    "1.3.6.1.4.1.11": ("HP", None),
    "1.3.6.1.4.1.232": ("HPE", "ProLiant (iLO)"),
    "1.3.6.1.4.1.14823": ("Aruba", None),
    "1.3.6.1.4.1.47196": ("HPE Aruba", None),
    "1.3.6.1.4.1.2636": ("Juniper", None),
    "1.3.6.1.4.1.12356": ("Fortinet", None),
    "1.3.6.1.4.1.12356.101.1": ("Fortinet", "FortiGate"),
    "1.3.6.1.4.1.25461": ("Palo Alto Networks", None),
    "1.3.6.1.4.1.2011": ("Huawei", None),
    "1.3.6.1.4.1.6486": ("Alcatel-Lucent Enterprise", None),
    "1.3.6.1.4.1.1916": ("Extreme Networks", None),
    "1.3.6.1.4.1.30065": ("Arista", None),
    "1.3.6.1.4.1.14988": ("MikroTik", None),
    "1.3.6.1.4.1.41112": ("Ubiquiti", None),
    "1.3.6.1.4.1.2620": ("Check Point", None),
    "1.3.6.1.4.1.8741": ("SonicWall", None),
    "1.3.6.1.4.1.3375": ("F5", None),
    "1.3.6.1.4.1.674": ("Dell", None),
    "1.3.6.1.4.1.6876": ("VMware", "ESXi"),
    "1.3.6.1.4.1.311": ("Microsoft", "Windows"),
    "1.3.6.1.4.1.6574": ("Synology", None),
    "1.3.6.1.4.1.789": ("NetApp", None),
    "1.3.6.1.4.1.12325": ("pfSense/FreeBSD", None),
    "1.3.6.1.4.1.8072": ("Net-SNMP", None),
    "1.3.6.1.4.1.8072.3.2.10": ("Net-SNMP", "Linux"),
}


def identify(sys_object_id: str | None) -> tuple[str | None, str | None]:
    """Vendor and model of the longest matching prefix: trim one arc at a time."""
    if not sys_object_id:
        return None, None
    arcs = sys_object_id.strip(".").split(".")
    while arcs:
        found = SYS_OBJECT_IDS.get(".".join(arcs))
        if found:
            return found
        arcs.pop()
    return None, None
