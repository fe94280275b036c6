"""Auditoría ISO/IEC 27001 (2013 y 2022): controles, evidencias y declaración de aplicabilidad."""
