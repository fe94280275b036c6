"""Observables: parsed and normalised, or refused in Spanish naming the value."""

from __future__ import annotations

import pytest

from csirt.observables import OBSERVABLE_TYPES, ObservableError, guess_type, normalize
from pukara.errors import UsageError


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("ipv4", " 198.18.0.1 ", "198.18.0.1"),
        ("ipv6", "FD70:756B:6172:0:0:0:0:1", "fd70:756b:6172::1"),
        ("cidr", "198.18.4.0/22", "198.18.4.0/22"),
        ("cidr", "FD70:756B:6172::/48", "fd70:756b:6172::/48"),
        ("cidr", "198.18.0.7", "198.18.0.7/32"),
        ("domain", "Evil.Example.TEST.", "evil.example.test"),
        ("domain", "münchen.test", "xn--mnchen-3ya.test"),
        ("domain", "XN--MNCHEN-3YA.test", "xn--mnchen-3ya.test"),
        ("domain", "_dmarc.rree.test", "_dmarc.rree.test"),
        ("hostname", "SRV-Lima01", "srv-lima01"),
        ("hostname", "fw1.lima.rree.test", "fw1.lima.rree.test"),
        ("url", "HTTPS://Phish.TEST:8443/login?u=a#x", "https://phish.test:8443/login?u=a#x"),
        ("url", "http://[FD70:756B::1]/a", "http://[fd70:756b::1]/a"),
        ("url", "ftp://198.18.0.9/pub/x.exe", "ftp://198.18.0.9/pub/x.exe"),
        ("url", "http://bücher.test/", "http://xn--bcher-kva.test/"),
        ("email", "Juan.Perez@RREE.Gob.PE", "Juan.Perez@rree.gob.pe"),
        ("md5", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
        ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("sha256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("mac", "AA-BB-CC-DD-EE-0F", "aa:bb:cc:dd:ee:0f"),
        ("mac", "aabb.ccdd.ee0f", "aa:bb:cc:dd:ee:0f"),
        ("mac", "AABBCCDDEE0F", "aa:bb:cc:dd:ee:0f"),
        ("cve", "cve-2024-3094", "CVE-2024-3094"),
        ("cve", "CVE-2021-44228", "CVE-2021-44228"),
        ("user", "RREE\\jperez", "RREE\\jperez"),
        ("user", "$(reboot)", "$(reboot)"),
        ("filename", "; rm -rf /", "; rm -rf /"),
        ("filename", "<script>alert(1)</script>.pdf", "<script>alert(1)</script>.pdf"),
        ("file name", "factura.pdf.exe", "factura.pdf.exe"),
    ],
)  # fmt: skip
def test_normalize(kind: str, value: str, expected: str) -> None:
    assert normalize(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "why"),
    [
        ("ipv4", "999.1.1.1", "0 a 255"),
        ("ipv4", "01.2.3.4", "0 a 255"),
        ("ipv4", "fd70::1", "IPv4"),
        ("ipv6", "fe80::1%eth0", "zona"),
        ("ipv6", "fd70::1::2", "no es una dirección IPv6"),
        ("cidr", "198.18.1.5/24", "¿quiso decir 198.18.1.0/24?"),
        ("cidr", "198.18.1.0/33", "prefijo"),
        ("domain", "evil..com", "etiqueta vacía"),
        ("domain", ".evil.com", "etiqueta vacía"),
        ("domain", "999.1.1.1", "numérica"),
        ("domain", "localhost", "dos etiquetas"),
        ("domain", "evil$.com", "admite solo"),
        ("domain", "a" * 64 + ".test", "admite solo"),
        ("domain", "xn--zz.test", "no es IDNA"),
        ("hostname", "srv_01", "admite solo"),
        ("hostname", "-srv", "admite solo"),
        ("url", "javascript:alert(1)", "esquema"),
        ("url", "file:///etc/passwd", "esquema"),
        ("url", "http://999.1.1.1/", "no es una dirección IPv4"),
        ("url", "http://evil..com/", "no es un nombre válido"),
        ("url", "http://x.test:99999/", "URL"),
        ("url", "http://x.test/a b", "espacios"),
        ("url", "http:///path", "no tiene equipo"),
        ("email", "sin-arroba.test", "usuario@dominio"),
        ("email", "a@evil..com", "dominio"),
        ("email", "a b@x.test", "no permitidos"),
        ("email", "a..b@x.test", "puntos"),
        ("sha256", "e" * 63, "tiene 63 caracteres; un SHA-256 tiene 64"),
        ("sha1", "g" * 40, "hexadecimales"),
        ("md5", "0" * 33, "tiene 33"),
        ("mac", "aa:bb:cc:dd:ee", "seis pares"),
        ("mac", "aa:bb-cc:dd:ee:ff", "seis pares"),
        ("cve", "CVE-24-1", "CVE-AAAA-NNNN"),
        ("cve", "CVE-1990-1234", "1999"),
        ("user", "a\x1b[31mb", "control"),
        ("user", "x" * 257, "256"),
        ("filename", "a\x00b", "control"),
        ("filename", "a\nb", "control"),
        ("user", "   ", "vacío"),
    ],
)
def test_normalize_refuses(kind: str, value: str, why: str) -> None:
    with pytest.raises(ObservableError) as e:
        normalize(kind, value)
    assert isinstance(e.value, UsageError)
    assert why in e.value.message
    assert e.value.message.startswith("Observable no válido")
    assert "\x1b" not in e.value.message and "\x00" not in e.value.message


def test_unknown_type_lists_the_valid_ones() -> None:
    with pytest.raises(ObservableError) as e:
        normalize("ip", "198.18.0.1")
    assert "«ip»" in e.value.message
    for kind in OBSERVABLE_TYPES:
        assert kind in e.value.message


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("198.18.0.1", "ipv4"),
        ("fd70:756b:6172::1", "ipv6"),
        ("198.18.0.0/15", "cidr"),
        ("https://phish.test/x", "url"),
        ("jperez@rree.test", "email"),
        ("d41d8cd98f00b204e9800998ecf8427e", "md5"),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1"),
        ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256"),
        ("aa:bb:cc:dd:ee:ff", "mac"),
        ("CVE-2024-3094", "cve"),
        ("evil.test", "domain"),
        ("srv01", None),
        ("999.1.1.1", None),
        ("e" * 63, None),
        ("", None),
        ("factura.pdf", "domain"),  # a name with a dot looks like a domain: the user must say
    ],
)
def test_guess_type(value: str, kind: str | None) -> None:
    assert guess_type(value) == kind


def test_every_type_has_a_normaliser() -> None:
    samples = {
        "ipv4": "198.18.0.1", "ipv6": "fd70::1", "cidr": "198.18.0.0/16",
        "domain": "x.test", "url": "http://x.test/", "email": "a@x.test", "user": "a",
        "hostname": "srv", "md5": "0" * 32, "sha1": "0" * 40, "sha256": "0" * 64,
        "filename": "a.txt", "mac": "00:11:22:33:44:55", "cve": "CVE-2020-0001",
    }  # fmt: skip
    assert set(samples) == set(OBSERVABLE_TYPES)
    for kind, value in samples.items():
        assert normalize(kind, value)


@pytest.mark.parametrize(
    ("kind", "value", "why"),
    [
        ("url", "http://[::1", "los corchetes de la dirección IPv6 no están bien cerrados"),
        ("url", "http://a.test:99999/", "el puerto no es un número de 0 a 65535"),
        ("domain", "xn--a.test", "lleva el carácter U+0080, que un nombre no admite"),
        ("domain", "xn--ls8h-.test", "lleva un guion al comienzo o al final"),
    ],
)
def test_refusals_are_told_in_spanish_without_the_librarys_words(
    kind: str, value: str, why: str
) -> None:
    with pytest.raises(ObservableError) as e:
        normalize(kind, value)
    assert why in e.value.message
    for english in ("Invalid", "Codepoint", "not allowed", "Port", "position", "hyphen"):
        assert english not in e.value.message
    assert e.value.__cause__ is not None  # the library's reason, for --debug
