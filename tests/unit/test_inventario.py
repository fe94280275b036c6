"""Inventory import/export, validation and the Ansible inventory, on a real SQLite store."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from inventario import ansible_inventory, catalog, discovery, files, plan, reports
from inventario.model import ASSETS, FIELDS, SITES
from lab.sites import LabSite
from pukara.errors import UsageError
from pukara.store import SQLiteStore

SITES_CSV = (
    "code,name,kind,country,city,timezone,parent\r\n"
    "lima,Sede central,sede central,PE,Lima,America/Lima,\r\n"
    "emb-es,Embajada en España,Embajada,ES,Madrid,Europe/Madrid,lima\r\n"
)


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def _import(store: SQLiteStore, path: Path, dry_run: bool = False) -> plan.Plan:
    return catalog.import_file(store, files.read_file(path), dry_run=dry_run)


def test_sample_round_trip_is_byte_identical(store: SQLiteStore, tmp_path: Path) -> None:
    first = catalog.import_sample(store, dry_run=False)
    assert len([c for c in first.changes if c.kind == SITES]) >= 140
    kinds = [a["kind"] for a in catalog.assets(store)]
    assert (kinds.count("servidor_fisico"), kinds.count("blade"), kinds.count("nas")) == (22, 16, 5)
    assert all("ejemplo" in a["tags"] for a in catalog.assets(store))
    assert catalog.import_sample(store, dry_run=False).empty
    for fmt, kind, suffix in (
        ("json", None, "json"),
        ("csv", ASSETS, "csv"),
        ("csv", SITES, "csv"),
    ):
        text = catalog.export_text(store, fmt, kind)
        path = _write(tmp_path, f"export.{suffix}", text)
        assert _import(store, path).empty, fmt
        assert catalog.export_text(store, fmt, kind) == text


def test_csv_with_bom_and_semicolons(store: SQLiteStore, tmp_path: Path) -> None:
    text = SITES_CSV.replace(",", ";")
    path = _write(tmp_path, "sedes.csv", text, encoding="utf-8-sig")
    result = _import(store, path)
    assert [c.key for c in result.changes] == ["lima", "emb-es"]
    assert store.get(SITES, ["emb-es"])["kind"] == "embajada"  # label normalised to its slug


def test_every_bad_row_is_reported_and_nothing_applied(store: SQLiteStore, tmp_path: Path) -> None:
    _import(store, _write(tmp_path, "sedes.csv", SITES_CSV))
    before = catalog.assets(store)
    bad = _write(tmp_path, "activos.csv", (
        "name,kind,site,mgmt_ipv4,purchase_date,serial\n"
        "ok-1,router,lima,198.18.0.2,2020-01-31,ABC123\n"
        "mal-ip,router,lima,198.18.0.300,2020-01-31,ABC124\n"
        "mal-sede,switch,quito,198.18.0.3,2020-01-31,ABC125\n"
        "mal-fecha,switch,lima,198.18.0.4,2020-02-30,ABC126\n"
        "duplicado,switch,lima,198.18.0.5,2020-01-01,ABC123\n"
    ))  # fmt: skip
    with pytest.raises(plan.InvalidData) as caught:
        _import(store, bad)
    found = {(p.where, p.field) for p in caught.value.problems}
    assert found == {("línea 3", "mgmt_ipv4"), ("línea 4", "site"), ("línea 5", "purchase_date"),
                     ("línea 6", "serial")}  # fmt: skip
    assert "activos.csv: línea 3: campo «IPv4 de gestión» (mgmt_ipv4)" in str(caught.value)
    assert catalog.assets(store) == before == []


def test_secret_columns_are_refused(store: SQLiteStore, tmp_path: Path) -> None:
    path = _write(
        tmp_path, "a.csv", "name,kind,mgmt_ipv4,community\nr1,router,198.18.0.2,publica\n"
    )
    with pytest.raises(files.InvalidFile, match="parece un secreto"):
        files.read_file(path)


def test_dry_run_writes_nothing(store: SQLiteStore, tmp_path: Path) -> None:
    result = _import(store, _write(tmp_path, "sedes.csv", SITES_CSV), dry_run=True)
    assert len(result.changes) == 2 and catalog.sites(store) == []


def test_asset_tag_wins_and_renames(store: SQLiteStore, tmp_path: Path) -> None:
    _import(store, _write(tmp_path, "sedes.csv", SITES_CSV))
    _import(store, _write(tmp_path, "a.csv", "name,asset_tag,kind,site\nviejo,PAT-1,pc,lima\n"))
    result = _import(store, _write(tmp_path, "b.csv", "name,asset_tag,kind\nnuevo,PAT-1,pc\n"))
    assert [(c.key, c.action) for c in result.changes] == [("nuevo", "renombre")]
    names = [a["name"] for a in catalog.assets(store)]
    assert names == ["nuevo"] and store.get(ASSETS, ["nuevo"])["site"] == "lima"  # kept
    _import(store, _write(tmp_path, "d.csv", "name,asset_tag,kind\notro,PAT-9,pc\n"))
    with pytest.raises(
        plan.InvalidData,
        match="ya hay otro activo llamado «nuevo», y el código patrimonial «PAT-9» es de «otro»",
    ):
        _import(store, _write(tmp_path, "e.csv", "name,asset_tag,kind\nnuevo,PAT-9,pc\n"))


def test_parent_cycle_is_refused(store: SQLiteStore, tmp_path: Path) -> None:
    text = ("code,name,kind,timezone,parent\na,A,consulado,America/Lima,b\n"
            "b,B,consulado,America/Lima,a\n")  # fmt: skip
    with pytest.raises(plan.InvalidData, match="ciclo"):
        _import(store, _write(tmp_path, "s.csv", text))


def test_dynamic_inventory_groups(store: SQLiteStore) -> None:
    catalog.import_sample(store, dry_run=False)
    doc = ansible_inventory.build(catalog.sites(store), catalog.assets(store))
    groups = [g for g in doc if g != "_meta"]
    assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", g) for g in groups)
    assert "gw-emb-ar" in doc["sede_emb_ar"]["hosts"] and "gw-emb-ar" in doc["pais_ar"]["hosts"]
    assert "sede_emb_ar" in doc["sede_lima"]["children"]
    assert doc["_meta"]["hostvars"]["gw-emb-ar"]["ansible_host"] == str(
        LabSite(index=1, code="emb-ar").v4
    )
    assert ansible_inventory.host(doc, "no-existe") == {}
    yaml_form = ansible_inventory.to_yaml_inventory(doc)
    assert "gw-emb-ar" in yaml_form["all"]["children"]["etiqueta_kbcs"]["hosts"]
    json.dumps(yaml_form)


def test_lifecycle_and_capacity() -> None:
    assets = [
        {"name": "a", "kind": "servidor_fisico", "purchase_date": "2015-01-01",
         "warranty_end": "2018-01-01", "eol_date": "desconocido"},
        {"name": "b", "kind": "servidor_fisico", "purchase_date": "2025-01-01",
         "warranty_end": "2027-01-01", "eol_date": "2026-12-01"},
        {"name": "c", "kind": "pc", "purchase_date": "2025-06-01",
         "warranty_end": "2030-01-01", "eol_date": "2032-01-01"},
    ]  # fmt: skip
    rows, buckets = reports.lifecycle(assets, date(2026, 11, 23), 30, everything=False)
    assert [(r["name"], r["warranty_state"], r["eol_state"]) for r in rows] == [
        ("a", "vencido", "desconocido"), ("b", "vigente", "por vencer")]  # fmt: skip
    assert buckets["8 años o más"] == 1 and buckets["menos de 3 años"] == 2
    obs = [{"asset": "a", "source": "ansible", "facts": {"cpu_count": 4}}]
    metrics = {"a": {"cpu_used_pct": 90.0, "memory_used_pct": 50.0, "disk_used_pct": 10.0}}
    cap = reports.capacity(assets, obs, metrics, reports.Thresholds())
    assert cap.over == ["a"] and cap.averages["cpu"] == 90.0
    assert [r["name"] for r in cap.rows] == ["a", "b"]


def test_ip_address_show_with_a_point_to_point_tunnel_parses() -> None:
    from inventario.ssh_discovery import _interfaces, _parse_interfaces

    text = """1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: wan0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
    link/ether 9a:1c:44:02:6e:11 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 198.18.0.6/30 scope global wan0
       valid_lft forever preferred_lft forever
3: kbcs0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UNKNOWN qlen 500
    link/none
    inet 198.19.64.6 peer 198.19.64.5/32 scope global kbcs0
       valid_lft forever preferred_lft forever
"""
    interfaces, addresses = _interfaces(_parse_interfaces(text))
    assert [i["name"] for i in interfaces] == ["lo", "wan0", "kbcs0"]
    assert {(a["ip"], a["prefix_len"], a["interface"]) for a in addresses} == {
        ("198.18.0.6", 30, "wan0"),
        ("198.19.64.6", 32, "kbcs0"),
    }


def test_ip_address_show_with_stderr_notes_in_the_channel_parses() -> None:
    """The SSH channel mixes stderr in: iproute2's note about a veth peer must not fail it."""
    from inventario.ssh_discovery import _interfaces, _parse_interfaces

    text = """1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
Error: Peer netns reference is invalid.
2: wan0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
    link/ether 9a:1c:44:02:6e:11 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 198.18.0.6/30 scope global wan0
       valid_lft forever preferred_lft forever
"""
    interfaces, addresses = _interfaces(_parse_interfaces(text))
    assert [i["name"] for i in interfaces] == ["lo", "wan0"]
    assert ("198.18.0.6", 30, "wan0") in {
        (a["ip"], a["prefix_len"], a["interface"]) for a in addresses
    }


def test_each_filesystem_counts_once_and_cpu_is_read_over_a_window() -> None:
    from inventario.ansible_facts import to_facts

    gb = 10**9
    root = {"mount": "/", "device": "/dev/sda1", "uuid": "u-1", "fstype": "ext4",
            "size_total": 100 * gb, "size_available": 60 * gb}  # fmt: skip
    raw = {
        "mounts": [
            {**root, "mount": "/etc/hosts"},  # a bind mount of the same file system
            root,
            {**root, "mount": "/var/lib/docker/x", "uuid": "N/A"},  # same device, no UUID
            {
                "mount": "/datos",
                "device": "/dev/sdb1",
                "uuid": "N/A",
                "fstype": "xfs",
                "size_total": 50 * gb,
                "size_available": 10 * gb,
            },
            {"mount": "/run", "device": "tmpfs", "fstype": "tmpfs", "size_total": gb},
        ],
        "cpu_stat": ["cpu  100 0 100 800 0 0 0 0", "cpu  150 0 150 1700 0 0 0 0"],
        "loadavg": "0.50 0.75 1.25 2/300 4242",
        "cpu_window_s": "5",
    }
    facts = to_facts(raw)
    assert [d["mount"] for d in facts["disks"]] == ["/", "/datos"]
    assert sum(d["size_gb"] for d in facts["disks"]) == 150.0
    assert facts["cpu_used_pct"] == 10.0 and facts["cpu_window_s"] == 5.0
    assert facts["load_avg"] == [0.5, 0.75, 1.25]
    obs = [{"asset": "a", "source": "ansible", "facts": {"disks": facts["disks"]}}]
    cap = reports.capacity([{"name": "a", "kind": "servidor_fisico"}], obs,
                           {"a": {"load_avg": facts["load_avg"]}}, reports.Thresholds())  # fmt: skip
    assert cap.rows[0]["disk_gb"] == 150.0 and cap.rows[0]["load_avg_15m"] == 1.25


def test_the_facts_playbook_measures_cpu_before_gathering_over_seconds() -> None:
    import yaml

    from playbooks import __file__ as playbooks_init

    play = yaml.safe_load((Path(playbooks_init).parent / "inventario" / "hechos.yml").read_text())
    (only,) = play
    assert only["gather_facts"] is False  # facts (which load the host) come after the CPU
    tasks = only["tasks"]
    first = tasks[0]["ansible.builtin.shell"]
    assert "/proc/stat" in first and "/proc/loadavg" in first and "sleep" in first
    assert only["vars"]["pukara_cpu_window_s"] >= 5
    assert "ansible.builtin.setup" in tasks[1]


def test_retired_assets_are_out_of_the_reports(store: SQLiteStore) -> None:
    assets = [
        {"name": "a", "kind": "servidor_fisico", "purchase_date": "2015-01-01",
         "warranty_end": "2018-01-01", "status": "dado_de_baja"},
        {"name": "b", "kind": "servidor_fisico", "purchase_date": "2015-01-01",
         "warranty_end": "2018-01-01"},
    ]  # fmt: skip
    rows, _buckets = reports.lifecycle(assets, date(2026, 11, 23), 30, everything=True)
    assert [r["name"] for r in rows] == ["b"] and rows[0]["attention"] is True
    assert [r["name"] for r in reports.capacity(assets, [], {}, reports.Thresholds()).rows] == ["b"]
    assert reports.ordered_buckets({"8 años o más": 1, "sin fecha de compra": 2,
                                    "3 a 5 años": 4}) == [
        ("3 a 5 años", 4), ("8 años o más", 1), ("sin fecha de compra", 2)]  # fmt: skip


def test_csv_kind_is_told_by_the_columns_only_one_collection_has(tmp_path: Path) -> None:
    assets = files.read_file(_write(tmp_path, "a.csv", "name,kind,site,custodian\nx,pc,lima,Ana\n"))
    assert len(assets.rows[ASSETS]) == 1 and not assets.rows[SITES]
    sites = files.read_file(_write(tmp_path, "s.csv", "name,kind,country\nX,embajada,ES\n"))
    assert len(sites.rows[SITES]) == 1
    with pytest.raises(files.InvalidFile, match="parece un secreto"):  # before any guess
        files.read_file(_write(tmp_path, "b.csv", "name,kind,site,snmp_community\nx,pc,l,c\n"))
    with pytest.raises(files.InvalidFile, match=r"sedes \(country\) y de activos \(site\)"):
        files.read_file(_write(tmp_path, "m.csv", "name,country,site\nx,ES,l\n"))
    with pytest.raises(files.InvalidFile, match="comunes a sedes y activos"):
        files.read_file(_write(tmp_path, "n.csv", "name,kind\nx,pc\n"))
    with pytest.raises(files.InvalidFile) as error:  # the valid columns in their order
        files.read_file(_write(tmp_path, "u.csv", "name,site,colour\nx,l,red\n"))
    names = [f.name for f in FIELDS[ASSETS]]
    assert f"válidas: {', '.join(names)}" in str(error.value)


def test_asset_names_are_one_asset_in_any_case(store: SQLiteStore, tmp_path: Path) -> None:
    _import(store, _write(tmp_path, "a.csv", "name,kind,serial\nPC-Q-UP,pc,S-1\nsrv-1,blade,\n"))
    result = _import(store, _write(tmp_path, "b.csv", "name,kind,custodian\npc-q-up,pc,Ana\n"))
    assert [(c.key, c.action) for c in result.changes] == [("PC-Q-UP", "modificación")]
    assert [a["name"] for a in catalog.assets(store)] == ["PC-Q-UP", "srv-1"]
    assert catalog.find_asset(store, "pc-q-up")["custodian"] == "Ana"
    with pytest.raises(plan.InvalidData, match="duplicado"):  # one file, the same name twice
        _import(store, _write(tmp_path, "c.csv", "name,kind,site\nNUEVO,pc,\nnuevo,pc,\n"))
    with pytest.raises(
        plan.InvalidData,
        match=r"ya hay otro activo llamado «srv-1», y el n\.º de serie «S-1» es de «PC-Q-UP»",
    ):
        _import(store, _write(tmp_path, "d.csv", "name,serial,kind\nSRV-1,S-1,pc\n"))
    with pytest.raises(UsageError, match="el activo «PC-Q-UP» no tiene dirección"):
        discovery.resolve(store, ["pc-Q-up"], [])  # the asset, not an unknown name


def test_retirement_data_must_agree_with_the_status(store: SQLiteStore, tmp_path: Path) -> None:
    def problems(text: str) -> list[tuple[str | None, str]]:
        with pytest.raises(plan.InvalidData) as error:
            _import(store, _write(tmp_path, "r.csv", text))
        return [(p.field, p.message) for p in error.value.problems]

    head = "name,kind,status,retired_on,retired_reason\n"
    found = problems(head + "a1,pc,activo,2021-01-01,\n")
    assert found == [("retired_on", "el estado es «activo», no «dado de baja»: deje vacíos la "
                      "fecha y el motivo de baja o ponga ese estado")]  # fmt: skip
    assert [f for f, _ in problems(head + "a2,pc,dado de baja,,\n")] == ["retired_reason"]
    assert [f for f, _ in problems(head + "a3,pc,en almacén,,Roto\n")] == ["retired_reason"]
    _import(store, _write(tmp_path, "ok.csv", head + "a4,pc,dado de baja,,Robado\n"))
    assert store.get(ASSETS, ["a4"])["retired_on"] == datetime.now(UTC).date().isoformat()
    # putting it back in service with a retirement date in the same row contradicts itself
    assert [f for f, _ in problems(head + "a4,pc,activo,2021-01-01,\n")] == ["retired_on"]
    # an old record retired without a reason does not block another change
    store.upsert(ASSETS, [{**store.get(ASSETS, ["a4"]), "retired_reason": None}], key=("name",))
    _import(store, _write(tmp_path, "c.csv", "name,kind,custodian\na4,pc,Ana\n"))
    assert store.get(ASSETS, ["a4"])["custodian"] == "Ana"


def test_tags_are_normalised_only_in_case_accents_and_spaces(
    store: SQLiteStore, tmp_path: Path
) -> None:
    from inventario.model import parse_tags

    assert parse_tags("Núcleo Red|wan_2, kbcs") == ["kbcs", "nucleo-red", "wan-2"]
    for typed in (":+1:", "b[/]c", "[/]"):
        with pytest.raises(ValueError, match=f"etiqueta «{re.escape(typed)}» inválida"):
            parse_tags(typed)


@pytest.mark.parametrize(("typed", "code"), [("Ana\u202eZZ", "U+202E"), ("A\u200bna", "U+200B"),
                                             ("Ana\x07", "U+0007"), ("\ufeffAna", "U+FEFF")])  # fmt: skip
def test_invisible_characters_are_refused_and_shown_escaped(
    store: SQLiteStore, tmp_path: Path, typed: str, code: str
) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"assets": [{"name": "a1", "kind": "pc", "custodian": typed}]}))
    with pytest.raises(plan.InvalidData) as error:
        _import(store, path)
    assert f"invisibles ({code}): «" in str(error.value) and f"<{code}>" in str(error.value)
    assert typed not in str(error.value)  # escaped, never shown as it is


def test_utf16_files_are_read_with_their_mark_and_explained_without_it(tmp_path: Path) -> None:
    doc = json.dumps(
        {"assets": [{"name": "pc-01", "kind": "pc", "custodian": "Núñez"}]}, ensure_ascii=False
    )
    for codec in ("utf-16", "utf-32"):  # with their byte order mark, as Windows writes them
        path = tmp_path / f"{codec}.json"
        path.write_bytes(doc.encode(codec))
        assert files.read_file(path).rows[ASSETS][0].values["custodian"] == "Núñez"
    bare = tmp_path / "le.json"
    bare.write_bytes(doc.encode("utf-16-le"))
    with pytest.raises(files.InvalidFile) as error:
        files.read_file(bare)
    assert "parece UTF-16 sin marca" in str(error.value) and "Excel" not in str(error.value)
    latin = tmp_path / "w.json"
    latin.write_bytes(doc.encode("cp1252"))
    with pytest.raises(files.InvalidFile) as error:  # JSON: no word about Excel's «CSV»
        files.read_file(latin)
    assert "no está en UTF-8: guárdelo como UTF-8" in str(error.value)
    assert "CSV" not in str(error.value)


def test_errors_come_in_the_file_order(store: SQLiteStore, tmp_path: Path) -> None:
    text = ("code,name,kind,timezone,parent\n"
            "a1,A,embajada,America/Lima,no-existe\n"  # line 2: found after every row is read
            "a2,B,embajada,Mars/Olympus,\n")  # fmt: skip
    with pytest.raises(plan.InvalidData) as error:
        _import(store, _write(tmp_path, "s.csv", text))
    assert [p.where for p in error.value.problems] == ["línea 2", "línea 3"]
    message = str(error.value)
    assert message.index("línea 2") < message.index("línea 3")


def test_two_stored_names_that_differ_only_in_case_are_an_ambiguity(store: SQLiteStore) -> None:
    """A database from before names were one in any case may hold both."""
    store.upsert(ASSETS, [{"name": "PC-A", "kind": "pc"}, {"name": "pc-a", "kind": "pc"}],
                 key=("name",))  # fmt: skip
    assert catalog.find_asset(store, "pc-a")["name"] == "pc-a"  # the exact one
    with pytest.raises(UsageError, match="«Pc-A» puede ser «PC-A», «pc-a»"):
        catalog.find_asset(store, "Pc-A")
