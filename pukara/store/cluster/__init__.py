"""The cluster backend: Elasticsearch or OpenSearch behind one small engine protocol.

``engine.py`` is the protocol every adapter satisfies and the names shared by all of them;
the adapters (one per engine, each on that engine's official client) only translate, and
everything else (templates, the bulk loop, the outbox's shipper, reads) is shared code.
"""
