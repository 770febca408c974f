"""Auth endpoints: login, refresh, logout, me."""
from flask import jsonify
from flask_jwt_extended import (create_access_token, decode_token, get_jwt, set_access_cookies,
                                unset_jwt_cookies, verify_jwt_in_request)
from flask_smorest import Blueprint

from portal.auth import service
from portal.auth.principal import Principal, authenticated, caller
from portal.auth.schemas import (AccessTokenSchema, LoginSchema, LogoutSchema, RefreshSchema,
                                 TokenSchema, UserSchema)
from portal.auth.throttle import login_throttle
from portal.auth.tokens import issue_tokens, set_session_cookies, user_claims
from portal.errors import Unauthorized
from portal.openapi.operations import CSRF_TOKEN
from portal.routes import no_idempotency, public

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Login and tokens")


@blp.route("/login", methods=["POST"])
@public
@no_idempotency
@blp.doc(responses={"401": "UNAUTHORIZED", "429": "TOO_MANY_REQUESTS"})
@login_throttle
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
def login(body):
    """Exchange email and password for tokens (also set as HttpOnly cookies for browsers)."""
    user = service.authenticate(body["email"], body["password"])
    tokens = issue_tokens(user)
    return set_session_cookies(jsonify(TokenSchema().dump({**tokens, "user": user})), tokens)


@blp.route("/refresh", methods=["POST"])
@public
@no_idempotency
@blp.doc(responses={"401": "UNAUTHORIZED"}, parameters=[CSRF_TOKEN])
@blp.arguments(RefreshSchema)
@blp.response(200, AccessTokenSchema)
def refresh(body):
    """A new access token for a valid refresh token (body, Authorization header or cookie)."""
    if body.get("refresh_token"):
        claims = decode_token(body["refresh_token"])
        if claims.get("type") != "refresh":
            raise Unauthorized("A refresh token is required.", code="invalid_token")
    else:
        # Revocation is the service's check below (Redis and the database), made once.
        verify_jwt_in_request(refresh=True, skip_revocation_check=True)
        claims = get_jwt()
    service.ensure_not_logged_out(claims.get("sid"))
    principal = Principal.from_claims(claims)
    user = service.get_user(principal)
    access = create_access_token(identity=user.id,
                                 additional_claims={**user_claims(user), "sid": claims["sid"]})
    response = jsonify(AccessTokenSchema().dump({"access_token": access}))
    set_access_cookies(response, access)
    return response


@blp.route("/logout", methods=["POST"])
@authenticated
@blp.response(200, LogoutSchema)
def logout():
    """Revoke this session's tokens everywhere (REST and the event stream) and clear cookies."""
    service.logout(caller())
    response = jsonify({"success": True})
    unset_jwt_cookies(response)
    return response


@blp.route("/me", methods=["GET"])
@authenticated
@blp.response(200, UserSchema)
def me():
    """The caller's own user."""
    return service.get_user(caller())
