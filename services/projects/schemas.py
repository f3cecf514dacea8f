"""Request and response schemas of the projects service (they are its OpenAPI document)."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from shared.schemas import UtcDateTime

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
PASSWORD_MIN_LENGTH = 8
# scrypt hashes any length, but an unbounded password is free CPU and memory for an attacker.
PASSWORD_MAX_LENGTH = 1024
NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000


class RegisterSchema(Schema):
    username = fields.String(
        required=True,
        validate=[
            validate.Length(min=3, max=64),
            validate.Regexp(USERNAME_PATTERN, error="Use only letters, digits, '_', '.' and '-'."),
        ],
    )
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH)
    )


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH))


class UserSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)


class AccessTokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds until the access token expires."})


class TokenPairSchema(AccessTokenSchema):
    refresh_token = fields.String(required=True)


class ProjectCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX_LENGTH))
    description = fields.String(load_default="", validate=validate.Length(max=DESCRIPTION_MAX_LENGTH))
    target = fields.String(load_default="sales", validate=validate.Length(min=1, max=NAME_MAX_LENGTH))


class ProjectCreateFormSchema(ProjectCreateSchema):
    data_file = Upload(
        required=True,
        metadata={"description": "The project's first dataset: a parquet, CSV or .xlsx file (as for dataset uploads)."},
    )


class ProjectUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=NAME_MAX_LENGTH))
    description = fields.String(validate=validate.Length(max=DESCRIPTION_MAX_LENGTH))
    target = fields.String(validate=validate.Length(min=1, max=NAME_MAX_LENGTH))


class ProjectSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    target = fields.String(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["pending", "training", "ready", "error"]),
        metadata={"description": "pending (no model yet), training, ready (a model serves) or error."},
    )
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    latest_dataset = fields.String(required=True, allow_none=True, metadata={"description": "Newest dataset's id."})
    active_model = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Version of the model that serves predictions."}
    )


class ColumnProfileSchema(Schema):
    name = fields.String(required=True)
    dtype = fields.String(required=True)
    nulls = fields.Integer()
    distinct = fields.Integer(allow_none=True)
    min = fields.Raw(allow_none=True, metadata={"description": "A number, or ISO text for dates and timestamps."})
    max = fields.Raw(allow_none=True, metadata={"description": "A number, or ISO text for dates and timestamps."})
    mean = fields.Raw(allow_none=True, metadata={"description": "A number, or ISO text for dates and timestamps."})


class DatasetSchema(Schema):
    id = fields.String(required=True)
    project_id = fields.Integer(required=True)
    filename = fields.String(required=True)
    rows = fields.Integer(required=True)
    size_bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    columns = fields.List(fields.Nested(ColumnProfileSchema), required=True)


class DatasetUploadFormSchema(Schema):
    file = Upload(metadata={"description": "The parquet, CSV or .xlsx file (or send it in 'data_file')."})
    data_file = Upload()


class PreviewQuerySchema(Schema):
    limit = fields.Integer(
        load_default=20,
        validate=validate.Range(min=1),
        metadata={"description": "Rows to return (at most the service's PREVIEW_MAX_ROWS)."},
    )


class PreviewSchema(Schema):
    columns = fields.List(fields.Raw(), required=True)
    records = fields.List(fields.Dict(), required=True)
