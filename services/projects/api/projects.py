from flask_smorest import Blueprint

blp = Blueprint("projects", __name__, url_prefix="/api/v1/projects")
