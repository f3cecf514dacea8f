"""``/api/v1/auth``: register, log in, refresh, log out, who am I."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import get_jwt, get_jwt_identity, jwt_required
from sqlalchemy.exc import IntegrityError

from services.projects import accounts
from services.projects.schemas import AccessTokenSchema, LoginSchema, RegisterSchema, TokenPairSchema, UserSchema
from shared.api import Blueprint
from shared.db import db
from shared.internal_auth import current_client_address, current_user_id
from shared.user_tokens import SESSION_CLAIM, issue_access_token, issue_token_pair, revoke_session

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens.")

BEARER = [{"bearerAuth": []}]


def _access_token_answer(access_token: str) -> dict:
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": current_app.config["ACCESS_TOKEN_MINUTES"] * 60,
    }


@blp.route("/register")
class Register(MethodView):
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="This username is already taken.")
    @blp.alt_response(429, description="Too many registrations from this address; retry after Retry-After seconds.")
    def post(self, credentials):
        """Create an account (409 if the username is taken)."""
        return accounts.register_user(
            credentials["username"], credentials["password"], current_client_address(), current_app.config
        )


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="Invalid username or password (the same answer for an unknown user).")
    @blp.alt_response(
        429,
        description="Too many failed logins for this username from this address, or from this address; retry after "
        "the Retry-After header's seconds. The same for an unknown user.",
    )
    def post(self, credentials):
        """Exchange a username and password for an access token and a refresh token."""
        user = accounts.authenticate(
            credentials["username"], credentials["password"], current_client_address(), current_app.config
        )
        access_token, refresh_token = issue_token_pair(user.id)
        return {**_access_token_answer(access_token), "refresh_token": refresh_token}


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.doc(security=BEARER)
    @blp.response(200, AccessTokenSchema)
    @blp.alt_response(401, description="Missing, invalid, expired or revoked refresh token.")
    @jwt_required(refresh=True)
    def post(self):
        """A new access token for the refresh token sent as 'Authorization: Bearer <refresh token>'."""
        user = accounts.get_user(int(get_jwt_identity()))
        return _access_token_answer(issue_access_token(user.id, get_jwt()[SESSION_CLAIM]))


@blp.route("/logout")
class Logout(MethodView):
    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, description="Missing, invalid, expired or already revoked token.")
    @jwt_required(verify_type=False)
    def post(self):
        """End the session of the presented token (access or refresh): both tokens of that login stop working."""
        revoke_session(get_jwt())
        try:
            db.session.commit()
        except IntegrityError:  # a concurrent logout with the same token stored it first
            db.session.rollback()


@blp.route("/me")
class Me(MethodView):
    @blp.doc(security=BEARER)
    @blp.response(200, UserSchema)
    def get(self):
        """The caller's account."""
        return accounts.get_user(current_user_id())
