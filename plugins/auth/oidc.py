"""OpenID Connect sign-in (authorization code flow with PKCE and a nonce).

The provider's discovery document and keys are fetched once and kept; a token signed
with an unknown key id triggers one re-fetch (key rotation). ID tokens are checked for
signature, issuer, audience, expiry and nonce. Accounts are found by the provider's
subject; a first sign-in links to the account with the same *verified* e-mail, or
creates one when sign-up allows it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from notewell.kernel.errors import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from notewell.plugins.auth import audit
from notewell.plugins.auth.models import Identity, User
from notewell.plugins.auth.service import (
    Client,
    SignedIn,
    create_user,
    has_users,
    normalise_email,
    start_session,
)
from notewell.plugins.auth.settings import OIDCProvider
from notewell.plugins.auth.state import AuthState

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
TIMEOUT = httpx.Timeout(10.0)


@dataclass(frozen=True, slots=True)
class Claims:
    """What sign-in needs from the provider about a person."""

    subject: str
    email: str | None
    email_verified: bool
    name: str


class OIDCClient:
    """Talks to one provider."""

    def __init__(self, name: str, provider: OIDCProvider) -> None:
        self.name = name
        self.provider = provider
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def _get(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.get(url, **kwargs)
                response.raise_for_status()
                data: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable(
                f"The {self.name} sign-in provider did not answer.", code="oidc_unavailable"
            ) from exc
        return data

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            issuer = self.provider.issuer.rstrip("/")
            found = await self._get(f"{issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != issuer:
                raise ServiceUnavailable("The provider's issuer does not match its settings.",
                                         code="oidc_misconfigured")
            self._metadata = found
        return self._metadata

    async def keys(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            jwks = await self._get((await self.metadata())["jwks_uri"])
            self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        return self._keys

    async def authorization_url(self, redirect_uri: str) -> tuple[str, dict[str, str]]:
        """Where to send the browser, and the state to remember until the callback."""
        login = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24),
                 "verifier": secrets.token_urlsafe(48)}
        url = add_params_to_uri((await self.metadata())["authorization_endpoint"], [
            ("response_type", "code"), ("client_id", self.provider.client_id),
            ("redirect_uri", redirect_uri), ("scope", self.provider.scopes),
            ("state", login["state"]), ("nonce", login["nonce"]),
            ("code_challenge", create_s256_code_challenge(login["verifier"])),
            ("code_challenge_method", "S256"),
        ])
        return url, login

    async def claims(self, code: str, redirect_uri: str, login: dict[str, str]) -> Claims:
        """Exchange ``code`` for tokens and return the checked claims."""
        metadata = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": login["verifier"]}
        secret = self.provider.client_secret.get_secret_value()
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.post(metadata["token_endpoint"], data=form,
                                           auth=(self.provider.client_id, secret))
                tokens: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable("The sign-in provider did not answer.",
                                     code="oidc_unavailable") from exc
        if response.status_code != 200 or "id_token" not in tokens:
            raise Unauthorized("The sign-in provider refused the code.", code="oidc_failed")
        claims = await self._verify(str(tokens["id_token"]), login["nonce"])
        if "email" not in claims and tokens.get("access_token"):
            claims = {**await self._get(
                metadata["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            ), **claims}
        return Claims(subject=str(claims["sub"]), email=claims.get("email"),
                      email_verified=claims.get("email_verified") is True,
                      name=str(claims.get("name") or ""))

    async def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            try:
                token = jwt.decode(id_token, await self.keys(), algorithms=ALGORITHMS)
            except JoseError:  # perhaps the provider rotated its keys
                token = jwt.decode(id_token, await self.keys(refresh=True),
                                   algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": (await self.metadata())["issuer"]},
                aud={"essential": True, "value": self.provider.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthorized("The sign-in provider's token is not valid.",
                               code="oidc_invalid_token") from exc
        return dict(token.claims)


def client_for(state: AuthState, name: str) -> OIDCClient:
    """The client of the configured provider ``name``; 404 ``oidc_provider_not_found``."""
    provider = state.settings.oidc.get(name)
    if provider is None:
        raise NotFound(f"No sign-in provider named {name!r}.", code="oidc_provider_not_found")
    found = state.oidc_clients.get(name)
    if found is None:
        found = state.oidc_clients[name] = OIDCClient(name, provider)
    return found


async def sign_in(state: AuthState, oidc: OIDCClient, claims: Claims, client: Client) -> SignedIn:
    """Find, link or create the account for ``claims`` and open a session."""
    async with state.db.session() as session:
        identity = await session.scalar(select(Identity).where(
            Identity.provider == oidc.name, Identity.subject == claims.subject))
        user = await session.get(User, identity.user_id) if identity else None
        if user is None:
            if not claims.email or not claims.email_verified:
                raise Forbidden("The provider did not confirm your e-mail address.",
                                code="oidc_email_unverified")
            email = normalise_email(claims.email)
            user = await session.scalar(select(User).where(User.email == email))
            if user is None:
                allowed = state.settings.signup_enabled or not await has_users(state, session)
                if not (oidc.provider.allow_signup and allowed):
                    raise Forbidden("Sign-up is disabled on this server.",
                                    code="signup_disabled")
                user = await create_user(state, session, email=email, password=None,
                                         name=claims.name)
                audit.record(session, "signup", actor_id=user.id, subject_id=user.id,
                             address=client.address, role=user.role, provider=oidc.name)
            session.add(Identity(provider=oidc.name, subject=claims.subject, user_id=user.id,
                                 email=email))
        if not user.active:
            raise Unauthorized("This account is deactivated.", code="account_disabled")
        audit.record(session, "signin", actor_id=user.id, subject_id=user.id,
                     address=client.address, provider=oidc.name)
        return await start_session(state, session, user, client)
