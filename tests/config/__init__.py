"""Config plane: models, loader, secrets."""
