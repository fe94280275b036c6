"""Ansible playbooks shipped with pukara, one folder per area."""
