"""Registros de los equipos y servidores: recepción syslog, importación de archivos, ECS,
búsqueda y detecciones Sigma."""
