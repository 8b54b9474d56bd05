"""Shared code of the Tags service: models, validation, auth, errors, data access and domain rules."""
