"""An SSH key file is checked before any host is tried with it: each fault names profile and file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pukara.errors import SecretsError
from pukara.secrets import CredentialProfile, Secret, usable_key_file


def _profile(key: Path | str | None) -> CredentialProfile:
    fields = {"username": Secret("root")}
    if key is not None:
        fields["key_file"] = Secret(str(key))
    return CredentialProfile("sede-x", fields)


def _keygen(path: Path, passphrase: str = "") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)],
                   check=True, capture_output=True)  # fmt: skip
    return path


def test_a_good_key_is_its_path_and_is_checked_once(tmp_path: Path) -> None:
    key = _keygen(tmp_path / "llave")
    checked: dict[str, str | None] = {}
    assert usable_key_file(_profile(key), checked) == key
    assert checked == {str(key): None}


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("missing", "no existe (No such file or directory)"),
        ("open", "permisos -rw-r--r-- demasiado abiertos; ssh la ignora"),
        ("passphrase", "está protegida con frase de paso"),
        ("garbage", "no es una llave privada SSH legible"),
        ("folder", "es una carpeta"),
    ],
)
def test_a_key_that_cannot_be_used_names_profile_and_file(
    tmp_path: Path, kind: str, said: str
) -> None:
    key = tmp_path / "llave"
    if kind == "open":
        _keygen(key).chmod(0o644)
    elif kind == "passphrase":
        _keygen(key, "frase-de-prueba")
    elif kind == "garbage":
        key.write_text("no es una llave\n")
        key.chmod(0o600)
    elif kind == "folder":
        key.mkdir()
    with pytest.raises(SecretsError) as raised:
        usable_key_file(_profile(key))
    assert raised.value.message.startswith(f"perfil «sede-x»: la llave {key} no sirve: ")
    assert said in raised.value.message


def test_a_profile_without_a_key_file_says_so() -> None:
    with pytest.raises(SecretsError, match="el perfil «sede-x» no tiene key_file"):
        usable_key_file(_profile(None))
