"""The internet lab's web: one nginx (master and one worker) for every web configuration.

Each configuration of :data:`lab.internet_zonas.WEB` has its own addresses; every domain of
that configuration lands on the same ``server`` (nginx tells names apart by Host, and they
all get the same site). Bodies are inline (``return``), larger than 1280 bytes, so the
worker reads no file. TLS uses two self-signed certificates made in the lab's folder: the
"different content" configuration serves the other one over IPv6.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab import internet_zonas as z
from lab.services import DAEMON_ENVIRONMENT, run_checked, wait_started

NGINX = "/usr/sbin/nginx"
CERTS = ("lab", "otro")


def body(tag: str, size: int = 3000) -> str:
    """A page of ``size`` characters: the same for the same tag."""
    words = f"Embajada del Peru, sitio {tag} del laboratorio de pukara. "
    text = (words * (size // len(words) + 1))[:size]
    return f"<html><body><p>{text}</p></body></html>"


# a page that shares little with body(): other letters, other length (W4 "distinto")
OTHER_BODY = "<html><body><p>" + ("0123456789 IPV6 " * 120) + "</p></body></html>"


def _server(listen: list[str], reply: str, cert: str = "lab") -> str:
    lines = [f"    server {{\n        listen {a};" for a in listen[:1]]
    lines += [f"        listen {a};" for a in listen[1:]]
    lines += [
        "        server_name _;",
        f"        ssl_certificate {cert}.crt;",
        f"        ssl_certificate_key {cert}.key;",
        f"        location / {{ {reply} }}",
        "    }",
    ]
    return "\n".join(lines)


def _both(host: z.Host, port: int, ssl: bool) -> list[str]:
    tail = f":{port}" + (" ssl" if ssl else "")
    return [f"{host.v4}{tail}"] + ([f"[{host.v6}]{tail}"] if host.v6 else [])


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


def make_certs(folder: Path) -> None:
    for name in CERTS:
        if (folder / f"{name}.crt").exists():
            continue
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "30", "-subj", f"/CN=pukara {name} lab",
             "-addext", "subjectAltName=DNS:*.test,DNS:*.rree.test",
             "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.crt")],
            check=True, capture_output=True, stdin=subprocess.DEVNULL, env=DAEMON_ENVIRONMENT,
        )  # fmt: skip
        (folder / f"{name}.key").chmod(0o600)


def start_nginx(ns: str, folder: Path) -> int:
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / "tmp").mkdir(mode=0o700, exist_ok=True)
    make_certs(folder)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(folder))
    run_checked(["ip", "netns", "exec", ns, NGINX, "-p", f"{folder}/", "-e",
                 str(folder / "error.log"), "-c", str(conf)], "nginx")  # fmt: skip
    return wait_started(folder / "nginx.pid", NGINX, "nginx")
