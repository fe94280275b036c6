"""Inventario de sedes y activos: importar, exportar y descubrir equipos."""
