"""Resource-level facts shared by every kontinue component: API group, kinds and label keys."""
