"""A minimal OpenID Connect provider on the loopback (joserfc signs its ID tokens).

Authorization code flow only, what mozilla-django-oidc uses: a sign-in form at
/authorize that knows a few people and their claims, /token (client secret, code
once), /userinfo (bearer access token), /jwks and the discovery document. Tokens are
RS256 JWTs with `iss`, `aud`, `exp` and the `nonce` of the request.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey


class OIDCProvider:
    def __init__(self, client_id: str, client_secret: str, people: dict[str, dict[str, Any]]):
        self.client_id, self.client_secret = client_id, client_secret
        self.people = people  # username -> extra claims
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "alg": "RS256"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.token_requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OIDCProvider:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def endpoint(self, name: str) -> str:
        return f"{self.issuer}/{name}"

    def claims_of(self, username: str) -> dict[str, Any]:
        return {"sub": f"sub-{username}", "preferred_username": username, **self.people[username]}

    def id_token(self, username: str, nonce: str | None, audience: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience or self.client_id,
            "iat": now,
            "exp": now + 300,
            **self.claims_of(username),
        }
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(
                self,
                status: int,
                body: str | dict,
                content_type: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                data = (json.dumps(body) if isinstance(body, dict) else body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                parsed = parse_qs(self.rfile.read(length).decode())
                return {k: v[0] for k, v in parsed.items()}

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._send(
                        200,
                        {
                            "issuer": provider.issuer,
                            "authorization_endpoint": provider.endpoint("authorize"),
                            "token_endpoint": provider.endpoint("token"),
                            "userinfo_endpoint": provider.endpoint("userinfo"),
                            "jwks_uri": provider.endpoint("jwks"),
                            "id_token_signing_alg_values_supported": ["RS256"],
                        },
                    )
                elif url.path == "/jwks":
                    self._send(200, {"keys": [provider.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    if query.get("client_id") != provider.client_id:
                        self._send(400, {"error": "unauthorized_client"})
                        return
                    hidden = "".join(
                        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                        for k, v in query.items()
                    )
                    self._send(
                        200,
                        (
                            "<!doctype html><title>Test identity provider</title>"
                            "<h1>Identity provider</h1>"
                            f'<form method="post" action="/authorize">{hidden}'
                            '<label>User <input name="username" id="idp-username"></label>'
                            '<button type="submit" id="idp-sign-in">Sign in</button></form>'
                        ),
                        "text/html; charset=utf-8",
                    )
                elif url.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in provider.tokens:
                        self._send(401, {"error": "invalid_token"})
                        return
                    self._send(200, provider.claims_of(provider.tokens[token]["username"]))
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                form = self._form()
                if self.path == "/authorize":
                    username = form.get("username", "")
                    if username not in provider.people:
                        self._send(200, "<p id='idp-error'>unknown user</p>", "text/html")
                        return
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {
                        "username": username,
                        "nonce": form.get("nonce"),
                        "redirect_uri": form["redirect_uri"],
                    }
                    target = (
                        form["redirect_uri"]
                        + "?"
                        + urlencode({"code": code, "state": form.get("state", "")})
                    )
                    self._send(302, "", "text/plain", {"Location": target})
                elif self.path == "/token":
                    provider.token_requests += 1
                    grant = provider.codes.pop(form.get("code", ""), None)
                    if (
                        form.get("client_id") != provider.client_id
                        or form.get("client_secret") != provider.client_secret
                    ):
                        self._send(401, {"error": "invalid_client"})
                    elif grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                        self._send(400, {"error": "invalid_grant"})
                    else:
                        access = secrets.token_urlsafe(24)
                        provider.tokens[access] = grant
                        self._send(
                            200,
                            {
                                "access_token": access,
                                "token_type": "Bearer",
                                "expires_in": 300,
                                "id_token": provider.id_token(grant["username"], grant["nonce"]),
                            },
                        )
                else:
                    self._send(404, {"error": "not_found"})

        return Handler
