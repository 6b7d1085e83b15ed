"""The spec language: user-facing models, validation and canonicalization."""
