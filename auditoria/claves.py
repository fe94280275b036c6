"""The Ed25519 key that signs evidence bundles: kept 0600 in the data directory.

Created on first use (``<data_dir>/auditoria/firma_ed25519.pem``, PKCS#8, folder 0700); only its
public half leaves the machine (``auditoria clave exportar``). Ed25519 signatures are
deterministic, so signing the same manifest twice gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pukara.errors import PukaraError, os_reason
from pukara.files import make_private_dirs, write_atomically

KEY_NAME = "firma_ed25519.pem"


class SigningKeyError(PukaraError):
    """The signing key or a public key cannot be used."""


def key_path(data_dir: Path) -> Path:
    return data_dir / "auditoria" / KEY_NAME


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = path.read_bytes()
    except OSError as e:
        raise SigningKeyError(
            f"{path}: no se pudo leer la clave de firma: {os_reason(e)}"
        ) from None
    if mode & 0o077:
        raise SigningKeyError(
            f"{path}: la clave de firma tiene permisos {mode:04o}; deben ser 0600 "
            f"(corrija con: chmod 600 {path})"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SigningKeyError(f"{path}: no es una clave privada PEM válida") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: la clave de firma no es Ed25519")
    return key


def signing_key(data_dir: Path, *, create: bool = True) -> Ed25519PrivateKey:
    """The data directory's signing key; created (0600) when absent and ``create``."""
    path = key_path(data_dir)
    if path.exists():
        return _load_private(path)
    if not create:
        raise SigningKeyError(
            f"{path}: aún no hay clave de firma (se crea en la primera «auditoria ejecutar»)"
        )
    make_private_dirs(path.parent)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    old = os.umask(0o077)
    try:
        write_atomically(path, pem, mode=0o600)
    finally:
        os.umask(old)
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: how a manifest names its signer."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def parse_public(data: bytes, source: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SigningKeyError(f"{source}: no es una clave pública PEM válida") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{source}: la clave pública no es Ed25519")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SigningKeyError(f"{path}: no se pudo leer la clave pública: {os_reason(e)}") from None
    return parse_public(data, str(path))
