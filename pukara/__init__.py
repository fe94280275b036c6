"""Núcleo compartido de pukara: configuración, errores, resultados, almacén y eventos."""

__version__ = "0.1.0"
