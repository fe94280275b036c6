"""Connect to the cluster ``es_url`` names: detect the engine, then build its adapter."""

from __future__ import annotations

from pukara.config import Settings
from pukara.errors import ConfigError
from pukara.store.cluster.detect import ES_EXTRA, OS_EXTRA, connection_from_settings, detect
from pukara.store.cluster.engine import SearchEngine


def connect(settings: Settings) -> SearchEngine:
    """The engine adapter for ``settings.es_url``.

    Raises ConfigError for what the operator must fix (URL, credentials, certificate, client
    version) and EngineUnavailable while no node answers (the caller may wait and retry).
    """
    conn = connection_from_settings(settings)
    info, url = detect(conn)
    if info.distribution == "opensearch":
        try:
            from pukara.store.cluster.opensearch import OpenSearchEngine
        except ImportError as e:
            raise ConfigError(
                f"{url} es {info.label}: falta su cliente ({e.name}): {OS_EXTRA}"
            ) from None
        return OpenSearchEngine(conn, info)
    try:
        from pukara.store.cluster.elasticsearch import ElasticsearchEngine
    except ImportError as e:
        raise ConfigError(
            f"{url} es {info.label}: falta su cliente ({e.name}): {ES_EXTRA}"
        ) from None
    engine: SearchEngine = ElasticsearchEngine(conn, info)
    return engine
