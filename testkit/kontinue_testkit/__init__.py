"""Development-only test kit: the local control plane as pytest fixtures."""
