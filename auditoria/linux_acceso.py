"""Linux checks on passwords, lockout, SSH, shell timeout and accounts (5-17)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auditoria import linux_secciones as sec
from auditoria.linux_secciones import Section, Verdict, error, failed, listing, passed, sections
from auditoria.politica import Policy

Raw = Mapping[str, str]


def _conf_values(section: Section | None) -> dict[str, str]:
    """``key = value`` lines (pwquality.conf, faillock.conf, pwhistory.conf); a bare key is ''."""
    values: dict[str, str] = {}
    for line in sec.active_lines(section.text if section else ""):
        key, _, value = line.partition("=")
        values[key.strip().lower()] = value.strip()
    return values


def _pam_module(section: Section | None, module: str) -> dict[str, str] | None:
    """The arguments of ``module`` in a PAM stack (its first active line), or None."""
    for line in sec.active_lines(section.text if section else ""):
        words = line.split()
        names = [w for w in words if w.endswith(".so")]
        if names and (names[0] == module or names[0].endswith("/" + module)):
            args = words[words.index(names[0]) + 1 :]
            return {a.partition("=")[0].lower(): a.partition("=")[2] for a in args}
    return None


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and re.fullmatch(r"-?\d+", text.strip()) else None


def password_quality(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["pam_password"])
    stack = found.get("/etc/pam.d/common-password")
    if stack is None:
        return failed("no existe /etc/pam.d/common-password")
    quality = _pam_module(stack, "pam_pwquality.so")
    if quality is None:
        return failed("pam_pwquality no está en /etc/pam.d/common-password")
    conf = _conf_values(found.get("/etc/security/pwquality.conf"))
    for part in sec.file_sections(found, "/etc/security/pwquality.conf.d/"):
        conf.update(_conf_values(part))
    minlen = _number(quality.get("minlen", conf.get("minlen", "8")))
    if minlen is None or minlen < policy.min_length:
        return failed(f"pam_pwquality exige minlen={minlen}, menos de {policy.min_length}")
    history = _pam_module(stack, "pam_pwhistory.so")
    if history is None:
        return failed("pam_pwhistory no está en /etc/pam.d/common-password")
    hconf = _conf_values(found.get("/etc/security/pwhistory.conf"))
    remember = _number(history.get("remember", hconf.get("remember", "10")))
    if remember is None or remember < policy.history:
        return failed(f"pam_pwhistory recuerda {remember} contraseñas, menos de {policy.history}")
    return passed(f"pam_pwquality minlen={minlen} y pam_pwhistory remember={remember}")


def password_hashing(raw: Raw, policy: Policy) -> Verdict:
    section = sections(raw["login_defs"]).get("/etc/login.defs")
    if section is None:
        return failed("no existe /etc/login.defs")
    values: dict[str, str] = {}
    for line in sec.active_lines(section.text):
        words = line.split()
        if len(words) >= 2:
            values[words[0]] = words[1]
    method = values.get("ENCRYPT_METHOD", "DES").upper()
    if method not in policy.hash_methods:
        return failed(f"ENCRYPT_METHOD es {method}, no {' ni '.join(sorted(policy.hash_methods))}")
    days = _number(values.get("PASS_MAX_DAYS"))
    if days is None or days < 0 or days > policy.max_days:
        return failed(f"PASS_MAX_DAYS es {values.get('PASS_MAX_DAYS', 'sin fijar')}, más de "
                      f"{policy.max_days}")  # fmt: skip
    return passed(f"ENCRYPT_METHOD {method} y PASS_MAX_DAYS {days}")


def account_lockout(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["pam_auth"])
    stack = found.get("/etc/pam.d/common-auth")
    if stack is None:
        return failed("no existe /etc/pam.d/common-auth")
    faillock = _pam_module(stack, "pam_faillock.so")
    if faillock is None:
        return failed("pam_faillock no está en /etc/pam.d/common-auth")
    conf = _conf_values(found.get("/etc/security/faillock.conf"))
    deny = _number(faillock.get("deny", conf.get("deny", "3")))  # pam_faillock's default: 3
    if deny is None or not 1 <= deny <= policy.lockout_max_deny:
        return failed(f"pam_faillock bloquea tras deny={deny}; se exige de 1 a "
                      f"{policy.lockout_max_deny}")  # fmt: skip
    return passed(f"pam_faillock bloquea la cuenta tras {deny} intentos fallidos")


def sshd_config(raw: Raw) -> dict[str, str] | Verdict:
    """The effective sshd settings (``sshd -T``), or the verdict when they are not there."""
    found = sections(raw["sshd"])
    section = found.get("sshd_effective")
    if section is None:
        return sec.error("falta la salida de sshd -T")
    if section.missing:
        return failed("sshd no está instalado")
    if not section.ok:
        first = section.text.strip().splitlines()
        return sec.error(f"sshd -T falló: {first[0][:200] if first else 'sin salida'}")
    values: dict[str, str] = {}
    for line in section.text.splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key.lower(), value.strip())
    return values


_MATCHED = {"sshd_match_root": "root desde otra dirección",
            "sshd_match_user": "otro usuario desde otra dirección"}  # fmt: skip


def _matched(raw: Raw, keys: Sequence[str]) -> list[str] | Verdict:
    """The audited keys a Match block weakens: ``sshd -T -C`` for root and for another user
    from an address outside the lab, against the plain ``sshd -T``. Output collected before
    these sections existed is judged on the plain one alone."""
    found = sections(raw["sshd"])
    weakened: list[str] = []
    for name, who in _MATCHED.items():
        section = found.get(name)
        if section is None:
            continue
        if not section.ok:
            first = section.text.strip().splitlines()
            return sec.error(
                f"sshd -T -C ({who}) falló: {first[0][:200] if first else 'sin salida'}"
            )
        values: dict[str, str] = {}
        for line in section.text.splitlines():
            key, _, value = line.partition(" ")
            values.setdefault(key.lower(), value.strip())
        for key in keys:
            if values.get(key.lower()) != "no":
                weakened.append(f"{key} {values.get(key.lower(), 'sin valor')} ({who})")
    return weakened


def ssh_root_login(raw: Raw, policy: Policy) -> Verdict:
    conf = sshd_config(raw)
    if isinstance(conf, Verdict):
        return conf
    value = conf.get("permitrootlogin", "")
    if value != "no":
        return failed(f"PermitRootLogin es «{value or 'sin valor'}», no «no»")
    matched = _matched(raw, ["PermitRootLogin"])
    if isinstance(matched, Verdict):
        return matched
    if matched:
        return failed(f"un bloque Match de sshd vuelve a permitir: {', '.join(matched)}")
    return passed("PermitRootLogin no")


def ssh_password_auth(raw: Raw, policy: Policy) -> Verdict:
    conf = sshd_config(raw)
    if isinstance(conf, Verdict):
        return conf
    bad = [f"{name} {conf.get(name.lower(), 'sin valor')}"
           for name in ("PasswordAuthentication", "PermitEmptyPasswords")
           if conf.get(name.lower()) != "no"]  # fmt: skip
    if bad:
        return failed(f"sshd acepta contraseñas: {', '.join(bad)}")
    matched = _matched(raw, ["PasswordAuthentication", "PermitEmptyPasswords"])
    if isinstance(matched, Verdict):
        return matched
    if matched:
        return failed(f"un bloque Match de sshd acepta contraseñas: {', '.join(matched)}")
    return passed("PasswordAuthentication no y PermitEmptyPasswords no")


def ssh_crypto(raw: Raw, policy: Policy) -> Verdict:
    conf = sshd_config(raw)
    if isinstance(conf, Verdict):
        return conf

    def offered(key: str) -> list[str]:
        return [a for a in conf.get(key, "").split(",") if a]

    weak = [c for c in offered("ciphers") if c in policy.weak_ciphers]
    weak += [m for m in offered("macs") if m in policy.weak_macs]
    weak += [
        k
        for k in offered("kexalgorithms")
        if any(k == w or (w.endswith("-") and k.startswith(w)) for w in policy.weak_kex)
    ]
    for key in ("hostkeyalgorithms", "pubkeyacceptedalgorithms"):
        weak += [a for a in offered(key) if a in policy.weak_key_algorithms]  # fmt: skip
    if not offered("ciphers") or not offered("macs") or not offered("kexalgorithms"):
        return sec.error("sshd -T no dio Ciphers, MACs o KexAlgorithms")
    if weak:
        return failed(f"sshd ofrece algoritmos débiles: {listing(sorted(set(weak)))}")
    return passed("sshd no ofrece cifrados, MAC ni intercambios de claves débiles")


def ssh_idle_timeout(raw: Raw, policy: Policy) -> Verdict:
    conf = sshd_config(raw)
    if isinstance(conf, Verdict):
        return conf
    interval = _number(conf.get("clientaliveinterval"))
    count = _number(conf.get("clientalivecountmax"))
    if interval is None or not 1 <= interval <= policy.ssh_idle_max_s:
        return failed(f"ClientAliveInterval es {interval}; se exige de 1 a {policy.ssh_idle_max_s}")
    if count is None or not 1 <= count <= policy.ssh_alive_count_max:
        return failed(f"ClientAliveCountMax es {count}; se exige de 1 a "
                      f"{policy.ssh_alive_count_max}")  # fmt: skip
    return passed(f"ClientAliveInterval {interval} y ClientAliveCountMax {count}")


def login_banner(raw: Raw, policy: Policy) -> Verdict:
    conf = sshd_config(raw)
    if isinstance(conf, Verdict):
        return conf
    found = sections(raw["sshd"])
    banner = conf.get("banner", "none")
    if banner in ("", "none"):
        return failed("sshd no muestra aviso (Banner none)")
    text = found.get("banner_file")
    if text is None or not text.ok or not text.text.strip():
        return failed(f"el aviso de sshd ({banner}) no existe o está vacío")
    issue = found.get("issue_net")
    if issue is None or not issue.ok or not issue.text.strip():
        return failed("/etc/issue.net no existe o está vacío")
    return passed(f"sshd muestra el aviso {banner} y /etc/issue.net tiene texto")


def shell_timeout(raw: Raw, policy: Policy) -> Verdict:
    section = sections(raw["shell_profile"]).get("tmout")
    if section is None:
        return error("falta la búsqueda de TMOUT")
    values: list[int] = []
    readonly = False
    for line in section.text.splitlines():
        _, _, code = line.partition(":")  # "file:line:text"
        _, _, code = code.partition(":")
        code = code.split("#", 1)[0]
        for m in re.finditer(r"\bTMOUT=(\d+)", code):
            values.append(int(m.group(1)))
        if re.search(r"\b(readonly|declare\s+-r\w*|typeset\s+-r\w*)\s+(\w+=\S*\s+)*TMOUT\b", code):
            readonly = True
    if not values:
        return failed("TMOUT no está fijado en /etc/profile ni en /etc/profile.d")
    if any(not 1 <= v <= policy.tmout_max_s for v in values):
        return failed(f"TMOUT={listing(map(str, values))}; se exige de 1 a {policy.tmout_max_s}")
    if not readonly:
        return failed("TMOUT está fijado pero no es de solo lectura (readonly)")
    return passed(f"TMOUT={values[0]} de solo lectura")


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    pw_field: str  # passwd's second field, as the playbook gives it: "x" or "EMPTY"
    uid: int
    shell: str


def accounts(raw: Raw) -> tuple[list[Account], dict[str, tuple[str, int | None]]] | Verdict:
    """passwd's accounts and shadow's (state, last change day), or why they are not there."""
    found = sections(raw["accounts"])
    passwd, shadow = found.get("passwd"), found.get("shadow")
    if passwd is None or not passwd.ok or shadow is None or not shadow.ok:
        return error("no se pudo leer /etc/passwd o /etc/shadow")
    users: list[Account] = []
    for line in passwd.text.splitlines():
        parts = line.split(":")
        if len(parts) == 6 and parts[2].isdigit():
            users.append(Account(parts[0], parts[1], int(parts[2]), parts[5]))
    states: dict[str, tuple[str, int | None]] = {}
    for line in shadow.text.splitlines():
        parts = line.split(":")
        if len(parts) == 3:
            states[parts[0]] = (parts[1], _number(parts[2]))
    if not users:
        return error("/etc/passwd no tiene ninguna cuenta legible")
    return users, states


_EMPTY = "EMPTY"  # the playbook's word for an empty password field


def _duplicates(values: list[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def unique_ids(raw: Raw, policy: Policy) -> Verdict:
    got = accounts(raw)
    if isinstance(got, Verdict):
        return got
    users, states = got
    problems: list[str] = []
    uids = _duplicates([str(u.uid) for u in users])
    if uids:
        problems.append(f"UID repetidos {listing(uids)}")
    names = _duplicates([u.name for u in users]) + _duplicates(list(states))
    if names:
        problems.append(f"nombres repetidos {listing(sorted(set(names)))}")
    empty = [u.name for u in users if u.pw_field == _EMPTY]
    empty += [n for n, (state, _) in states.items() if state == _EMPTY]
    if empty:
        problems.append(f"cuentas sin contraseña {listing(sorted(set(empty)))}")
    if problems:
        return failed("; ".join(problems))
    return passed(f"{len(users)} cuentas con UID y nombre únicos, ninguna sin contraseña")


def uid0_only_root(raw: Raw, policy: Policy) -> Verdict:
    got = accounts(raw)
    if isinstance(got, Verdict):
        return got
    zero = [u.name for u in got[0] if u.uid == 0]
    extra = [n for n in zero if n not in policy.privileged]
    if extra:
        return failed(f"tienen UID 0 además de root: {listing(extra)}")
    if not zero:
        return failed("ninguna cuenta tiene UID 0 (¿/etc/passwd incompleto?)")
    return passed("solo root tiene UID 0")


_NOPASSWD_ALL = re.compile(r"NOPASSWD\s*:\s*(?:[A-Z_]+\s*:\s*)*ALL\s*(?:,|$)")


def sudo_nopasswd(raw: Raw, policy: Policy) -> Verdict:
    found = sections(raw["sudoers"])
    files = [
        s
        for s in sec.file_sections(found, "/etc/sudoers")
        # sudo skips files in sudoers.d whose name has a dot or ends in ~
        if s.name == "/etc/sudoers" or not re.search(r"[.~]", s.name.rsplit("/", 1)[1])
    ]
    if not files:
        return sec.not_applicable("sudo no está instalado (no hay /etc/sudoers)")
    offenders: list[str] = []
    for section in files:
        text = re.sub(r"\\\n", " ", section.text)
        for line in sec.active_lines(text):
            words = line.split()
            if words[0].startswith(("Defaults", "User_Alias", "Runas_Alias", "Host_Alias",
                                    "Cmnd_Alias", "@include", "#include")):  # fmt: skip
                continue
            if _NOPASSWD_ALL.search(line) and words[0] not in policy.service_accounts:
                offenders.append(f"{words[0]} ({section.name})")
    if offenders:
        return failed(f"NOPASSWD: ALL fuera de las cuentas de servicio aprobadas: "
                      f"{listing(offenders)}")  # fmt: skip
    return passed("NOPASSWD: ALL solo para las cuentas de servicio aprobadas")


_NO_LOGIN = ("nologin", "false", "sync", "shutdown", "halt")


def dormant_accounts(raw: Raw, policy: Policy) -> Verdict:
    got = accounts(raw)
    if isinstance(got, Verdict):
        return got
    users, states = got
    found = sections(raw["accounts"])
    keys_section = found.get("authorized_keys")
    with_keys = set(keys_section.text.split()) if keys_section else set()
    today = _number(found["today"].text) if "today" in found else None
    log = sections(raw["lastlog"])
    all_, recent = log.get("lastlog_all"), log.get("lastlog_recent")
    if all_ is None or recent is None or all_.missing:
        return failed("no se puede saber el último acceso: lastlog no existe en el equipo")
    if not all_.ok or not recent.ok or today is None:
        return error(f"lastlog falló: {all_.text.strip()[:200]}")
    never = {line.split()[0] for line in all_.text.splitlines()[1:]
             if "**Never logged in**" in line}  # fmt: skip
    seen = {line.split()[0] for line in recent.text.splitlines()[1:] if line.strip()}
    dormant: list[str] = []
    for user in users:
        state, changed = states.get(user.name, ("LOCKED", None))
        login = user.shell.rsplit("/", 1)[-1] not in _NO_LOGIN and (
            state in ("HASH", "EMPTY") or user.name in with_keys
        )
        if not login or user.name in policy.dormant_exempt or user.name in seen:
            continue
        # never logged in: judged by its age (shadow's last change, days since 1970)
        young = changed is not None and today - changed <= policy.dormant_days
        if user.name in never and young:
            continue
        dormant.append(user.name)
    if dormant:
        return failed(f"cuentas con acceso sin uso en más de {policy.dormant_days} días: "
                      f"{listing(dormant)}")  # fmt: skip
    return passed(f"ninguna cuenta con acceso lleva más de {policy.dormant_days} días sin uso")
