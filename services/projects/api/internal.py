"""Routes for other services only (never routed by the gateway, never in the public OpenAPI document)."""

from flask import Blueprint

blp = Blueprint("internal", __name__, url_prefix="/internal")
