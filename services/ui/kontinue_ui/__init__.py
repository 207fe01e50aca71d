"""The kontinue ui service."""
