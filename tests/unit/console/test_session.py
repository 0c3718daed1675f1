"""The console's session cookie: sealed, expiring, bound to the server key; CSRF tokens bound
to the cookie."""

from __future__ import annotations

from parley.console.session import LIFETIME_SECONDS, Sessions

KEY = bytes(range(32))
SECRET = "sk-ant-admin01-console-test"


def test_a_cookie_gives_back_its_key_until_it_expires() -> None:
    sessions = Sessions(KEY)
    cookie = sessions.issue(SECRET, now=1000.0)
    assert SECRET not in cookie
    assert sessions.secret(cookie, now=1000.0 + LIFETIME_SECONDS - 1) == SECRET
    assert sessions.secret(cookie, now=1000.0 + LIFETIME_SECONDS) is None


def test_a_cookie_of_another_server_key_or_altered_is_refused() -> None:
    cookie = Sessions(KEY).issue(SECRET, now=0.0)
    assert Sessions(bytes(32)).secret(cookie, now=1.0) is None
    altered = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    assert Sessions(KEY).secret(altered, now=1.0) is None
    assert Sessions(KEY).secret("not base64 at all!", now=1.0) is None


def test_the_csrf_token_belongs_to_one_cookie() -> None:
    sessions = Sessions(KEY)
    token = sessions.csrf("cookie-a")
    assert sessions.csrf_ok("cookie-a", token)
    assert not sessions.csrf_ok("cookie-b", token)
    assert not sessions.csrf_ok("cookie-a", None)
    assert not sessions.csrf_ok(None, token)
