"""The shipped rules against what registros' own parser makes of the corpus' raw lines: the
rules are written for the documents pukara really stores, not only for the golden corpus."""

from __future__ import annotations

import re
from pathlib import Path

from pukara.store.sqlite import SQLiteStore
from registros import detections
from registros.importar import import_files
from registros.sigma_sqlite import SQLiteSource
from tests.sigma_corpus import EXPECTED, SINCE, UNTIL, corpus


def test_rules_find_the_same_lines_in_what_the_parser_stores(tmp_path: Path) -> None:
    by_line: dict[str, str] = {}
    lines = []
    for doc in corpus():
        original = doc["event"].get("original")
        if original:  # syslog as a file keeps it: the line without its <PRI>
            line = re.sub(r"^<\d+>", "", original)
            by_line[line] = doc["event"]["id"]
            lines.append(line)
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines) + "\n")
    db = tmp_path / "pukara.db"
    with SQLiteStore(db) as store:
        import_files(store, [log], year=2026)
    source = SQLiteSource(db)
    try:
        for rule in detections.load_rules():
            hits = [
                tuple(by_line[e["event"]["original"]] for e in hit.events)
                for hit in detections.run(source, [rule], SINCE, UNTIL)
            ]
            assert hits == EXPECTED[rule.path.stem], rule.path.name
    finally:
        source.close()
