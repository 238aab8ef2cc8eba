"""A small OpenID Connect provider for tests: discovery, JWKS, authorize, token, userinfo.

ID tokens are real RS256 JWTs; PKCE (S256), client credentials and redirect URIs are
checked like a real provider would. Tests set ``claims`` to choose who signs in, and
may swap ``signing_key`` for one the JWKS does not publish to forge tokens.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

from aiohttp import BasicAuth, web
from joserfc import jwt
from joserfc.jwk import RSAKey

from notewell.testing.services import free_port

CLIENT_ID = "notewell-test"
CLIENT_SECRET = "test-client-secret"


class Provider:
    """Start with ``await provider.start()``, stop with ``await provider.stop()``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.signing_key = self.key
        self.claims: dict[str, Any] = {}
        self.email_in_id_token = True
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/jwks", self.jwks)
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_get("/userinfo", self.userinfo)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"issuer": self.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                **extra}

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        })

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return web.json_response({"error": "invalid_request"}, status=400)
        if query.get("code_challenge_method") != "S256":
            return web.json_response({"error": "invalid_request"}, status=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": query["nonce"], "challenge": query["code_challenge"],
                            "redirect_uri": query["redirect_uri"], "claims": dict(self.claims)}
        raise web.HTTPFound(f"{query['redirect_uri']}?code={code}&state={query['state']}")

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        grant = self.codes.pop(str(form.get("code")), None)
        if (auth.login, auth.password) != (CLIENT_ID, CLIENT_SECRET) or grant is None:
            return web.json_response({"error": "invalid_grant"}, status=400)
        digest = hashlib.sha256(str(form.get("code_verifier")).encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], "sub": grant["claims"]["sub"]}
        if self.email_in_id_token:
            claims.update(grant["claims"])
        access_token = secrets.token_urlsafe(16)
        self.tokens[access_token] = grant["claims"]
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.signing_key)
        return web.json_response({"access_token": access_token, "token_type": "Bearer",
                                  "expires_in": 300, "id_token": id_token})

    async def userinfo(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response(self.tokens[token])
