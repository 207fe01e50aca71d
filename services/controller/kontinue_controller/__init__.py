"""The kontinue controller service."""
