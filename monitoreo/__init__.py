"""Monitoreo WAN/VPN de las misiones: sondeos, estados, alertas y SLA."""
