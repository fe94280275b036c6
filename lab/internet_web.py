"""The internet lab's web: one nginx (master and one worker) for every web configuration.

Each configuration of :data:`lab.internet_zonas.WEB` has its own addresses; every domain of
that configuration lands on the same ``server`` (nginx tells names apart by Host, and they
all get the same site). Bodies are inline (``return``), larger than 1280 bytes, so the
worker reads no file. TLS: a lab root (``raiz.crt``, what W6c trusts), an intermediate under
it and two leaves under the intermediate, made in the lab's folder; servers send the leaf
with its intermediate (``<leaf>-cadena.crt``). The "different content" configuration serves
the other leaf over IPv6, "cadena6" the leaf without its intermediate over IPv6, "tls12v6"
only TLS 1.2 over IPv6 (nginx takes ``ssl_protocols`` from each listen socket's default
server: that configuration's addresses are its own, so the server is their default).
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

from lab import internet_zonas as z
from lab.internet_dns import _run, _wait_pid

NGINX = "/usr/sbin/nginx"
CERTS = ("lab", "otro")  # leaves, both under the intermediate
ROOT = "raiz.crt"
BOTH_TLS = "TLSv1.2 TLSv1.3"
OPENSSL_CNF = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = pukara lab
[raiz]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermedia]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[hoja]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.test, DNS:*.rree.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def body(tag: str, size: int = 3000) -> str:
    """A page of ``size`` characters: the same for the same tag."""
    words = f"Embajada del Peru, sitio {tag} del laboratorio de pukara. "
    text = (words * (size // len(words) + 1))[:size]
    return f"<html><body><p>{text}</p></body></html>"


# a page that shares little with body(): other letters, other length (W4 "distinto")
OTHER_BODY = "<html><body><p>" + ("0123456789 IPV6 " * 120) + "</p></body></html>"


def _server(
    listen: list[str], reply: str, cert: str = "lab", chain: bool = True, tls: str = BOTH_TLS
) -> str:
    lines = [f"    server {{\n        listen {a};" for a in listen[:1]]
    lines += [f"        listen {a};" for a in listen[1:]]
    lines += [
        "        server_name _;",
        f"        ssl_protocols {tls};",
        f"        ssl_certificate {cert}{'-cadena' if chain else ''}.crt;",
        f"        ssl_certificate_key {cert}.key;",
        f"        location / {{ {reply} }}",
        "    }",
    ]
    return "\n".join(lines)


def _both(host: z.Host, port: int, ssl: bool) -> list[str]:
    tail = f":{port}" + (" ssl" if ssl else "")
    return [f"{host.v4}{tail}"] + ([f"[{host.v6}]{tail}"] if host.v6 else [])


def _split(host: z.Host, reply: str, v6: dict[str, Any]) -> list[str]:
    """One server for the v4 listeners, one (with ``v6``'s options) for the v6 ones."""
    return [
        _server([f"{host.v4}:80", f"{host.v4}:443 ssl"], reply),
        _server([f"[{host.v6}]:80", f"[{host.v6}]:443 ssl"], reply, **v6),
    ]


def nginx_conf(folder: Path) -> str:
    w = z.WEB
    same = f'default_type text/html; return 200 "{body("lab")}";'
    servers = [
        _server(_both(w["dual"], 80, False) + _both(w["dual"], 443, True), same),
        _server(_both(w["v4"], 80, False) + _both(w["v4"], 443, True), same),
        # muerto6: IPv4 only; its AAAA is on the namespace but nothing listens there
        _server([f"{w['muerto6'].v4}:80", f"{w['muerto6'].v4}:443 ssl"], same),
        _server([*_both(w["443v4"], 80, False), f"{w['443v4'].v4}:443 ssl"], same),
        _server([f"{w['distinto'].v4}:80", f"{w['distinto'].v4}:443 ssl"], same),
        _server(
            [f"[{w['distinto'].v6}]:80", f"[{w['distinto'].v6}]:443 ssl"],
            f'default_type text/html; return 200 "{OTHER_BODY}";',
            cert="otro",
        ),
        _server(
            _both(w["redir4"], 80, False) + _both(w["redir4"], 443, True),
            f"return 301 http://{w['dual'].v4}/;",
        ),
        _server(
            _both(w["404"], 80, False) + _both(w["404"], 443, True),
            f'default_type text/html; return 404 "{body("no encontrado")}";',
        ),
        *_split(w["cadena6"], same, {"chain": False}),
        *_split(w["tls12v6"], same, {"tls": "TLSv1.2"}),
        _server(_both(w["pmtu6"], 80, False), same),  # no 443: W7 alone judges the black hole
        _server(_both(w["lento6"], 80, False) + _both(w["lento6"], 443, True), same),
    ]
    temp = "\n".join(
        f"    {kind}_temp_path {folder / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "worker_processes 1;\n"
        "user nobody nogroup;\n"
        f"pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "    access_log off;\n"
        "    server_tokens off;\n"
        f"{temp}\n" + "\n".join(servers) + "\n}\n"
    )


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder,
                   stdin=subprocess.DEVNULL)  # fmt: skip


def _issue(folder: Path, name: str, section: str, issuer: str | None) -> None:
    """``name.key`` and ``name.crt`` (extensions ``section``), signed by ``issuer`` or itself."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-config",
           "openssl.cnf", "-subj", f"/CN=pukara {name} lab", "-keyout", f"{name}.key"]  # fmt: skip
    if issuer is None:
        _openssl(folder, "req", "-x509", *key, "-days", "30", "-extensions", section,
                 "-out", f"{name}.crt")  # fmt: skip
    else:
        _openssl(folder, "req", "-new", *key, "-out", f"{name}.csr")
        _openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.crt",
                 "-CAkey", f"{issuer}.key", "-set_serial", str(secrets.randbits(63)),
                 "-days", "30", "-extfile", "openssl.cnf", "-extensions", section,
                 "-out", f"{name}.crt")  # fmt: skip
        (folder / f"{name}.csr").unlink()
    (folder / f"{name}.key").chmod(0o600)


def make_certs(folder: Path) -> None:
    """The lab root, its intermediate, the leaves and each leaf's chain file."""
    if all((folder / f"{n}-cadena.crt").exists() for n in CERTS):
        return
    (folder / "openssl.cnf").write_text(OPENSSL_CNF)
    _issue(folder, "raiz", "raiz", None)
    _issue(folder, "intermedia", "intermedia", "raiz")
    middle = (folder / "intermedia.crt").read_text()
    for name in CERTS:
        _issue(folder, name, "hoja", "intermedia")
        (folder / f"{name}-cadena.crt").write_text((folder / f"{name}.crt").read_text() + middle)


def start_nginx(ns: str, folder: Path) -> int:
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / "tmp").mkdir(mode=0o700, exist_ok=True)
    make_certs(folder)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(folder))
    _run(["ip", "netns", "exec", ns, NGINX, "-p", f"{folder}/", "-e", str(folder / "error.log"),
          "-c", str(conf)], "nginx")  # fmt: skip
    return _wait_pid(folder / "nginx.pid", NGINX, "nginx")
