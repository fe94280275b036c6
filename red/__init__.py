"""Equipos de red: sesiones, respaldo y comparación de configuraciones, cumplimiento."""
