"""The kontinue worker service."""
