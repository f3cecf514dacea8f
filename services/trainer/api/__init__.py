"""The trainer's public routes (the same paths as the public API; the gateway forwards them unchanged)."""
