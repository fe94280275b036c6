# ruff: noqa: E501, E401, I001, S310, E731, T201
"""Record real bulk responses of OpenSearch 2.19 for the classification tests (tests/unit/test_bulk_classify.py):
.venv/bin/python tests/data/grabado/record_bulk.py tests/data/grabado/bulk-opensearch-2.19.1.json"""

import json, sys, tempfile, threading, urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.opensearch_cluster import OpenSearchCluster

base = Path(tempfile.mkdtemp(prefix="rec-os-"))
c = OpenSearchCluster(
    base,
    nodes=1,
    heap="512m",
    settings={"thread_pool.write.size": 1, "thread_pool.write.queue_size": 1},
)
c.start()


def bulk(body: bytes):
    req = urllib.request.Request(
        c.url + "/_bulk", data=body, method="POST", headers={"Content-Type": "application/x-ndjson"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return {"http_status": e.code, "body": json.loads(e.read() or b"{}")}


out = {}
try:
    for name, shards in (("uno", 1), ("doce", 12)):
        c.request(
            "PUT",
            f"/_index_template/{name}",
            {
                "index_patterns": [f"pukara-eventos-{name}.*"],
                "data_stream": {},
                "priority": 200,
                "template": {
                    "settings": {"number_of_shards": shards, "number_of_replicas": 0},
                    "mappings": {
                        "properties": {"source": {"properties": {"port": {"type": "long"}}}}
                    },
                },
            },
        )
    doc = lambda i, port=22: json.dumps(
        {
            "@timestamp": "2026-12-01T10:00:00.000000Z",
            "event": {"id": f"id-{i}", "dataset": "uno.registro"},
            "source": {"port": port},
        }
    )
    act = lambda i, idx="pukara-eventos-uno.registro": json.dumps(
        {"create": {"_index": idx, "_id": f"id-{i}"}}
    )
    body = (
        "".join(f"{act(i)}\n{doc(i)}\n" for i in range(2)) + f"{act(2)}\n{doc(2, 'no-es-numero')}\n"
    )
    out["created_and_mapping_conflict"] = bulk(body.encode())
    out["duplicate"] = bulk(f"{act(0)}\n{doc(0)}\n".encode())
    # 404: an index that does not exist, with auto-create off
    c.request("PUT", "/_cluster/settings", {"persistent": {"action.auto_create_index": False}})
    out["index_missing"] = bulk(f"{act(5, 'otro-indice')}\n{doc(5)}\n".encode())
    c.request("PUT", "/_cluster/settings", {"persistent": {"action.auto_create_index": None}})
    ds = c.get("/_data_stream/pukara-eventos-uno.registro")["data_streams"][0]["indices"][-1][
        "index_name"
    ]
    c.request("PUT", f"/{ds}/_settings", {"index.blocks.write": True})
    out["write_block"] = bulk(f"{act(6)}\n{doc(6)}\n".encode())
    c.request("PUT", f"/{ds}/_settings", {"index.blocks.write": None})
    # 429: many shards, write pool of 1 thread and a queue of 1, several bulks at once
    results = []

    def go(k):
        results.append(
            bulk(
                "".join(
                    f"{act(k * 1000 + i, 'pukara-eventos-doce.registro')}\n{doc(k * 1000 + i)}\n"
                    for i in range(600)
                ).encode()
            )
        )

    for _ in range(5):
        ts = [threading.Thread(target=go, args=(k,)) for k in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        if any('"status": 429' in json.dumps(r) for r in results):
            break
    for r in results:
        items = [i for i in r.get("items", []) if i["create"]["status"] == 429]
        if items:
            out["rejected"] = {
                "took": r["took"],
                "errors": True,
                "items": items[:1] + [i for i in r["items"] if i["create"]["status"] == 201][:1],
            }
            break
    else:
        out["rejected_whole"] = [r for r in results if "http_status" in r][:1]
    out["_version"] = c.get("/")["version"]
finally:
    c.stop(keep_data=False)
Path(sys.argv[1]).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
print({k: (v.get("errors") if isinstance(v, dict) else v) for k, v in out.items()})
