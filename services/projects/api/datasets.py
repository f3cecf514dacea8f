from flask_smorest import Blueprint

blp = Blueprint("datasets", __name__, url_prefix="/api/v1/projects/<int:project_id>/datasets")
