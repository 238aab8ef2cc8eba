"""Request-side helpers shared by the auth routes: state, client, cookies."""

from __future__ import annotations

from typing import Any

from quart import Response, current_app, g, jsonify, request

from notewell.plugins.auth.identity import CSRF_COOKIE, SESSION_COOKIE
from notewell.plugins.auth.schemas import AuthResult, UserRead
from notewell.plugins.auth.service import Client, SignedIn
from notewell.plugins.auth.state import EXTENSION, AuthState


def state() -> AuthState:
    """The auth state of the app serving this request."""
    found: AuthState = current_app.extensions[EXTENSION]
    return found


def client() -> Client:
    """The caller's address (proxies considered by the kernel) and user agent."""
    return Client(
        address=getattr(g, "client_addr", None) or request.remote_addr,
        user_agent=request.headers.get("User-Agent", ""),
    )


def is_secure() -> bool:
    """Whether cookies must be ``Secure``: HTTPS here, or an https public URL."""
    public_url = current_app.kernel.settings.public_url or ""  # type: ignore[attr-defined]
    return request.scheme == "https" or public_url.startswith("https://")


def json_response(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def signed_in_response(result: SignedIn, status: int = 200) -> Response:
    """``{user, token}`` with the session and CSRF cookies set."""
    body = AuthResult(user=UserRead.of(result.user, result.groups), token=result.token)
    response = json_response(body.model_dump(mode="json"), status)
    set_session_cookies(response, result.token, state().signer.csrf_token(result.session_id),
                        result.max_age)
    return response


def set_session_cookies(response: Response, token: str, csrf: str, max_age: int) -> None:
    """The httpOnly session cookie and the script-readable CSRF cookie."""
    secure = is_secure()
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", secure=secure,
                        httponly=True, samesite="Lax")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=secure,
                        httponly=False, samesite="Lax")


def clear_session_cookies(response: Response) -> None:
    secure = is_secure()
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=httponly,
                               samesite="Lax")
