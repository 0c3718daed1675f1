"""Who calls the Bedrock surface, and in which region: an AWS Signature V4 made with an access
key that `parley keys create --aws` issued, or a Parley key as a Bedrock API key (`Bearer`).
The region is the one the URL names (`/bedrock/{region}/...`), else the signature's scope,
else the server's default."""

from __future__ import annotations

from dataclasses import dataclass

from parley.domain.ports import AwsCredentials, Clock, Principal
from parley.domain.sigv4 import ReceivedRequest, is_sigv4, parse_authorization, verify
from parley.errors import AuthenticationError
from parley.services.auth import AuthService

SIGNING_SERVICE = "bedrock"


@dataclass(frozen=True)
class BedrockCaller:
    principal: Principal
    region: str


class BedrockAuth:
    """`clock`: the wall clock, since clients sign with theirs (`x-amz-date` within 15 min)."""

    def __init__(
        self, auth: AuthService, credentials: AwsCredentials, clock: Clock, default_region: str
    ) -> None:
        self._auth = auth
        self._credentials = credentials
        self._clock = clock
        self._default_region = default_region

    async def authenticate(self, request: ReceivedRequest, url_region: str | None) -> BedrockCaller:
        authorization = request.header("authorization")
        if authorization is not None and is_sigv4(authorization):
            credential = parse_authorization(authorization)
            found = await self._credentials.secret_for(credential.access_key_id)
            if found is None:
                raise AuthenticationError("The security token included in the request is invalid.")
            verify(credential, found.secret_access_key, request, self._clock.now(), SIGNING_SERVICE)
            if url_region is not None and credential.region != url_region:
                raise AuthenticationError(
                    f"Credential should be scoped to a valid region, not '{credential.region}'. "
                    f"This endpoint is in '{url_region}'.",
                    error_code="invalid_signature",
                )
            return BedrockCaller(found.principal, credential.region)
        api_key = request.header("x-api-key")
        if authorization is None and api_key is None:
            raise AuthenticationError(
                "Missing Authentication Token", error_code="missing_authentication_token"
            )
        principal = await self._auth.authenticate(api_key, authorization)
        return BedrockCaller(principal, url_region or self._default_region)
