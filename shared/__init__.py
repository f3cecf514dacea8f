"""Code used by more than one SalesML service: configuration, errors, health, logging, auth, storage."""

__version__ = "0.1.0"
