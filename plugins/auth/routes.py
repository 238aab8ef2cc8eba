"""The account API under ``/api/v1/auth``: sign-up, sign-in, sessions, keys, OIDC."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, redirect, request
from quart_schema import validate_request

from notewell.kernel import policy
from notewell.kernel.errors import BadRequest, Unauthorized
from notewell.kernel.http import current_actor
from notewell.plugins.auth import keys, service
from notewell.plugins.auth.schemas import (
    AuthConfig,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyRead,
    OIDCProviderRead,
    PasswordChange,
    SigninRequest,
    SignupRequest,
    UserRead,
)
from notewell.plugins.auth.tokens import InvalidToken, same
from notewell.plugins.auth.web import (
    clear_session_cookies,
    client,
    is_secure,
    json_response,
    set_session_cookies,
    signed_in_response,
    state,
)

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")

OIDC_COOKIE = "notewell_oidc"
OIDC_STATE_SECONDS = 600


@bp.get("/config")
@policy.public
async def config() -> Response:
    """What the sign-in page needs to know."""
    auth = state()
    has_users = await service.any_users(auth)
    providers = [OIDCProviderRead(name=name, label=provider.label or name)
                 for name, provider in sorted(auth.settings.oidc.items())]
    body = AuthConfig(signup_enabled=auth.settings.signup_enabled or not has_users,
                      has_users=has_users, oidc=providers,
                      password_min_length=auth.settings.password_min_length)
    return json_response(body.model_dump(mode="json"))


@bp.post("/signup")
@policy.public
@validate_request(SignupRequest)
async def signup(data: SignupRequest) -> Response:
    """Create an account (the first one is the admin) and sign it in."""
    result = await service.signup(state(), email=data.email, password=data.password,
                                  name=data.name, client=client())
    return signed_in_response(result, 201)


@bp.post("/signin")
@policy.public
@validate_request(SigninRequest)
async def signin(data: SigninRequest) -> Response:
    """Sign in with e-mail and password; sets the session cookie and returns a token."""
    result = await service.signin(state(), email=data.email, password=data.password,
                                  client=client())
    return signed_in_response(result)


@bp.post("/signout")
@policy.public
async def signout() -> Response:
    """Revoke the current session (if any) and clear the cookies."""
    actor = current_actor()
    if actor.is_authenticated:
        await service.signout(state(), actor, client())
    response = Response("", status=204)
    clear_session_cookies(response)
    return response


@bp.get("/me")
@policy.signed_in
async def me() -> Response:
    """The signed-in account."""
    user, groups = await service.profile(state(), current_actor().id or "")
    return json_response(UserRead.of(user, groups).model_dump(mode="json"))


@bp.post("/password")
@policy.signed_in
@validate_request(PasswordChange)
async def change_password(data: PasswordChange) -> Response:
    """Change the caller's password; every other session of theirs is signed out."""
    await service.change_password(state(), current_actor(), current=data.current_password,
                                  new=data.new_password, client=client())
    return Response("", status=204)


@bp.get("/keys")
@policy.user
async def list_keys() -> Response:
    """The caller's API keys (never the keys themselves)."""
    rows = await keys.list_keys(state(), current_actor())
    return json_response(KeyList(items=[KeyRead.of(row) for row in rows]).model_dump(mode="json"))


@bp.post("/keys")
@policy.user
@validate_request(KeyCreate)
async def create_key(data: KeyCreate) -> Response:
    """A new API key, shown in this response only."""
    row, plaintext = await keys.create_key(state(), current_actor(), data.name, client().address)
    body = KeyCreated(**KeyRead.of(row).model_dump(), key=plaintext)
    return json_response(body.model_dump(mode="json"), 201)


@bp.delete("/keys/<key_id>")
@policy.user
async def revoke_key(key_id: str) -> Response:
    """Revoke one of the caller's keys (someone else's is 404)."""
    await keys.revoke_key(state(), current_actor(), key_id, client().address)
    return Response("", status=204)


def _callback_url(name: str) -> str:
    base = current_app.kernel.settings.public_url or request.host_url  # type: ignore[attr-defined]
    return f"{base.rstrip('/')}/api/v1/auth/oidc/{name}/callback"


@bp.get("/oidc/<name>/login")
@policy.public
async def oidc_login(name: str) -> Response:
    """Send the browser to provider ``name``; remember state, nonce and PKCE verifier."""
    auth = state()
    from notewell.plugins.auth import oidc  # authlib and joserfc load only when used

    url, login = await oidc.client_for(auth, name).authorization_url(_callback_url(name))
    return_to = request.args.get("next", "/")
    login.update(provider=name, next=return_to if return_to.startswith("/") and
                 not return_to.startswith("//") else "/")
    response = redirect(url)
    response.set_cookie(OIDC_COOKIE, auth.signer.sign_blob(login), max_age=OIDC_STATE_SECONDS,
                        path="/api/v1/auth/oidc/", httponly=True, samesite="Lax",
                        secure=is_secure())
    return response


@bp.get("/oidc/<name>/callback")
@policy.public
async def oidc_callback(name: str) -> Response:
    """Finish the provider's sign-in: check state, exchange the code, open a session."""
    auth = state()
    from notewell.plugins.auth import oidc

    provider = oidc.client_for(auth, name)
    try:
        login = auth.signer.unsign_blob(request.cookies.get(OIDC_COOKIE, ""), OIDC_STATE_SECONDS)
    except InvalidToken:
        raise BadRequest("The sign-in attempt expired; start again.", code="oidc_state") from None
    if login.get("provider") != name or not same(request.args.get("state", ""), login["state"]):
        raise BadRequest("The sign-in attempt does not match; start again.", code="oidc_state")
    if "code" not in request.args:
        raise Unauthorized("The provider did not sign you in.", code="oidc_denied")
    claims = await provider.claims(request.args["code"], _callback_url(name), login)
    result = await oidc.sign_in(auth, provider, claims, client())
    response = redirect(login["next"])
    set_session_cookies(response, result.token, auth.signer.csrf_token(result.session_id),
                        result.max_age)
    response.delete_cookie(OIDC_COOKIE, path="/api/v1/auth/oidc/")
    return response
