"""Model versions of a project: list, read, activate (promote or roll back)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from services.trainer import model_registry
from services.trainer.schemas import BacktestSchema, HoldoutSchema, ModelVersionSchema
from shared.api import Blueprint
from shared.domain_errors import ModelVersionNotFound
from shared.ids import ID
from shared.internal_auth import current_user_id
from shared.pagination import paginate
from shared.training_records import ModelVersion

blp = Blueprint("models", __name__, url_prefix="/api/v1/projects", description="Trained model versions")


@blp.route(f"/<{ID}:project_id>/models")
class Models(MethodView):
    @blp.response(200, ModelVersionSchema(many=True))
    @paginate(blp, page_size=100)
    def get(self, project_id: int, pagination_parameters: PaginationParameters) -> list[ModelVersion]:
        """The project's model versions, newest first (page_size at most PAGE_SIZE_MAX, else 422)."""
        page, total = model_registry.list_models(
            current_user_id(), project_id, pagination_parameters.first_item, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return page


@blp.route(f"/<{ID}:project_id>/models/<{ID}:version>")
class ModelByVersion(MethodView):
    @blp.response(200, ModelVersionSchema)
    @blp.alt_response(404, description="No such model version in this project")
    def get(self, project_id: int, version: int) -> ModelVersion:
        """One model version: algorithm, metrics, features, feature importance."""
        return _find_model_or_404(project_id, version)


@blp.route(f"/<{ID}:project_id>/models/<{ID}:version>/activate")
class ActivateModel(MethodView):
    @blp.response(200, ModelVersionSchema)
    @blp.alt_response(404, description="No such model version in this project")
    def post(self, project_id: int, version: int) -> ModelVersion:
        """Make this version the one that serves predictions (promote or roll back)."""
        return model_registry.activate_model(_find_model_or_404(project_id, version))


@blp.route(f"/<{ID}:project_id>/models/<{ID}:version>/holdout")
class ModelHoldout(MethodView):
    @blp.response(200, HoldoutSchema)
    @blp.alt_response(404, description="No such model version in this project")
    @blp.alt_response(409, description="A forecast model, or a version trained before holdout pairs were kept")
    def get(self, project_id: int, version: int) -> dict[str, Any]:
        """Actual and predicted values of the model on its run's holdout rows (for an actual-vs-predicted chart)."""
        return model_registry.holdout_pairs(_find_model_or_404(project_id, version))


@blp.route(f"/<{ID}:project_id>/models/<{ID}:version>/backtest")
class ModelBacktest(MethodView):
    @blp.response(200, BacktestSchema)
    @blp.alt_response(404, description="No such model version in this project")
    @blp.alt_response(409, description="A regression model (its errors are its holdout pairs)")
    def get(self, project_id: int, version: int) -> dict[str, Any]:
        """A forecast model's backtest windows: per window its origin, and each series' actual and forecast values."""
        return model_registry.backtest_windows(_find_model_or_404(project_id, version))


def _find_model_or_404(project_id: int, version: int) -> ModelVersion:
    model = model_registry.find_model(current_user_id(), project_id, version)
    if model is None:
        raise ModelVersionNotFound()
    return model
