"""Transición IPv4 a IPv6: servicios públicos en doble pila y preparación de equipos."""
