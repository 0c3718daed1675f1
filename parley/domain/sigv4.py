"""AWS Signature Version 4, verified from the request as it arrived. The canonical request is
rebuilt the way AWS's own signers build it for every service but S3: the path as sent on the
wire, dot segments and empty segments removed, then percent-encoded once more (so an encoded
`:` in a model id, `%3A`, is signed as `%253A`); query pairs sorted as sent; the signed headers,
lower-cased, their values trimmed and inner whitespace collapsed; the SHA-256 of the body."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from parley.errors import AuthenticationError

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW_SECONDS = 15 * 60


def is_sigv4(authorization: str | None) -> bool:
    return authorization is not None and authorization.startswith(ALGORITHM + " ")


@dataclass(frozen=True)
class Credential:
    """What the `Authorization` header claims: whose key, its scope, and the signature."""

    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class ReceivedRequest:
    """`raw_path` and `raw_query` exactly as on the wire (still percent-encoded); `headers`
    with lower-case names, repeated names kept."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


def _incomplete(message: str) -> AuthenticationError:
    return AuthenticationError(message, error_code="incomplete_signature")


def _invalid(message: str) -> AuthenticationError:
    return AuthenticationError(message, error_code="invalid_signature")


def parse_authorization(value: str) -> Credential:
    """`AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
    SignedHeaders=a;b, Signature=hex` (the comma-separated parts in any order)."""
    fields: dict[str, str] = {}
    for part in value.removeprefix(ALGORITHM).split(","):
        name, _, content = part.strip().partition("=")
        fields[name] = content
    missing = [
        name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)
    ]
    if missing:
        raise _incomplete(f"Authorization header requires '{missing[0]}' parameter.")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise _incomplete(
            "Credential should be of the form access-key-id/date/region/service/aws4_request."
        )
    return Credential(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
    )


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, and empty segments dropped too (AWS signs `a//b` as `a/b`)."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    if not kept:
        return "/"
    trailing = "/" if path.endswith("/") else ""
    return "/" + "/".join(kept) + trailing


def canonical_request(
    request: ReceivedRequest, signed_headers: Sequence[str], body_hash: str
) -> str:
    pairs = sorted(pair.partition("=")[::2] for pair in request.raw_query.split("&") if pair)
    lines = [
        request.method.upper(),
        quote(remove_dot_segments(request.raw_path), safe="/~"),
        "&".join(f"{key}={value}" for key, value in pairs),
    ]
    for name in signed_headers:
        values = [" ".join(v.split()) for key, v in request.headers if key == name]
        lines.append(f"{name}:{','.join(values)}")
    lines += ["", ";".join(signed_headers), body_hash]
    return "\n".join(lines)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, credential: Credential, timestamp: str, canonical: str) -> str:
    to_sign = "\n".join(
        [ALGORITHM, timestamp, credential.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = signing_key(secret, credential.date, credential.region, credential.service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def request_timestamp(request: ReceivedRequest) -> str:
    """`x-amz-date`, else the `date` header in the same form."""
    stamp = request.header("x-amz-date")
    if stamp is not None:
        return stamp
    date = request.header("date")
    if date is None:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        return parsedate_to_datetime(date).astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    except (TypeError, ValueError):
        raise _incomplete(f"Date header is not a valid HTTP date: {date}") from None


def check_time(timestamp: str, credential: Credential, now: float) -> None:
    """The signed time must be within 15 minutes of the server's, and on the scope's day."""
    try:
        signed_at = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete(
            f"X-Amz-Date must be in the form {TIMESTAMP_FORMAT}, not {timestamp}"
        ) from None
    if timestamp[:8] != credential.date:
        raise _invalid(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{credential.date}' != '{timestamp[:8]}'"
        )
    server = datetime.fromtimestamp(now, UTC).strftime(TIMESTAMP_FORMAT)
    skew = signed_at.timestamp() - now
    if skew < -MAX_SKEW_SECONDS:
        raise _invalid(f"Signature expired: {timestamp} is now earlier than {server} (15 min.)")
    if skew > MAX_SKEW_SECONDS:
        raise _invalid(
            f"Signature not yet current: {timestamp} is still later than {server} (15 min.)"
        )


def verify(
    credential: Credential, secret: str, request: ReceivedRequest, now: float, service: str
) -> None:
    """Raises AuthenticationError (error_code `invalid_signature` or `incomplete_signature`)
    unless the request is signed with `secret`, for `service`, within the time window."""
    if credential.service != service:
        raise _invalid(f"Credential should be scoped to correct service: '{service}'.")
    if "host" not in credential.signed_headers:
        raise _incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    timestamp = request_timestamp(request)
    check_time(timestamp, credential, now)
    body_hash = hashlib.sha256(request.body).hexdigest()
    claimed = request.header("x-amz-content-sha256")
    if claimed is not None and claimed != body_hash:
        raise _invalid(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    canonical = canonical_request(request, credential.signed_headers, body_hash)
    expected = signature(secret, credential, timestamp, canonical)
    if not hmac.compare_digest(expected.encode(), credential.signature.encode()):
        raise _invalid(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
