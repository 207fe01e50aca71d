"""The UI's blueprints, one per page family."""
