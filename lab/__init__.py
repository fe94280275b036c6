"""Emulated WAN of network namespaces: one namespace per site, real snmpd and sshd in each."""
