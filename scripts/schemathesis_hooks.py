"""Schemathesis hooks for Daftar (scripts/schemathesis.sh loads them with
SCHEMATHESIS_HOOKS): authentication as one demo user.

DAFTAR_URL    the server's base URL (default http://127.0.0.1:18080)
DAFTAR_USER   the user to test as (default so.moitt)
DAFTAR_PASSWORD  their password (default the demo password)

Also what JSON Schema cannot state, for the requests schemathesis means to
be valid (positive cases) only: periods whose days relate to each other and
to today (`from` ≤ `to` ≤ today, from 2000 on, analytics at most 371 days),
and search queries whose quotes and parentheses balance. And a serializer
for the one `application/pdf` request body.

The user logs in once and then renews the access token with the refresh
token: logins are throttled per address, and schemathesis itself sends
failed logins to POST /auth/login from the same address. A 401 with our
token (a session ended by something schemathesis did) invalidates the cached
token (schemathesis's `retry_on`), and the next request logs in again,
waiting out any 429 `Retry-After`.
"""

import datetime
import json
import os
import time
import urllib.error
import urllib.request

import schemathesis

BASE = os.environ.get("DAFTAR_URL", "http://127.0.0.1:18080").rstrip("/")
USER = os.environ.get("DAFTAR_USER", "so.moitt")
PASSWORD = os.environ.get("DAFTAR_PASSWORD", "daftar-demo-2026")


def _post(path, body):
    """POSTs JSON; answers (status, parsed body, headers)."""
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, json.loads(res.read() or b"null"), res.headers
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        return e.code, parsed, e.headers


@schemathesis.auth(refresh_interval=300)
class DaftarAuth:
    """A bearer token for DAFTAR_USER, renewed by refresh token, else by login."""

    def __init__(self):
        self.refresh_token = None

    def _tokens(self):
        if self.refresh_token:
            status, body, _ = _post("/api/v1/auth/refresh", {"refresh_token": self.refresh_token})
            self.refresh_token = None
            if status == 200:
                return body
        for _ in range(10):
            status, body, headers = _post("/api/v1/auth/login", {"username": USER, "password": PASSWORD})
            if status == 200:
                return body
            if status != 429:
                raise RuntimeError(f"login as {USER} answered {status}: {body}")
            time.sleep(int(headers.get("Retry-After", "1")))
        raise RuntimeError(f"login as {USER} stayed throttled")

    def get(self, case, ctx):
        tokens = self._tokens()
        self.refresh_token = tokens["refresh_token"]
        return tokens["access_token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.serializer("application/pdf")
def pdf_serializer(ctx, value):
    """Certificate imports: the bytes as generated (a real certificate is never guessed)."""
    if isinstance(value, bytes):
        return {"data": value}
    return {"data": str(value).encode()}


def _positive(case):
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _today():
    """The deployment's civil day (Pakistan Standard Time, UTC+5), as the server reckons it."""
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5)).date()


def _day(value):
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _period(values, default_from, max_days=None):
    """Makes `values["from"]`/`["to"]` a period the server accepts: each day
    in 2000..today, `from` <= `to`, at most `max_days` long; a `from` the
    default would put after `to` is given explicitly."""
    today, first = _today(), datetime.date(2000, 1, 1)
    given_from, given_to = _day(values.get("from")), _day(values.get("to"))
    if ("from" in values and given_from is None) or ("to" in values and given_to is None):
        return  # not dates: the schema says so, and the server answers 400
    to = min(max(given_to or today, first), today)
    start = given_from if given_from is not None else default_from(to)
    start = min(max(start, first), to)
    if max_days is not None and (to - start).days + 1 > max_days:
        start = to - datetime.timedelta(days=max_days - 1)
    if "to" in values:
        values["to"] = to.isoformat()
    if "from" in values or start != default_from(to):
        values["from"] = start.isoformat()


def _month_start(to):
    return _today().replace(day=1)


def _twelve_weeks_before(to):
    return to - datetime.timedelta(days=83)


def _balanced(q):
    """Quotes and parentheses close (what `search::query::check_syntax` asks)."""
    depth, quoted = 0, False
    for c in q:
        if c == '"':
            quoted = not quoted
        elif c == "(" and not quoted:
            depth += 1
        elif c == ")" and not quoted:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quoted


@schemathesis.hook
def map_case(context, case):
    if not _positive(case):
        return case
    path = case.operation.path
    query = case.query if isinstance(case.query, dict) else None
    body = case.body if isinstance(case.body, dict) else None
    if query is not None and path.endswith(("/compliance/metrics", "/compliance/consolidated")):
        _period(query, _month_start)
    elif query is not None and path.endswith("/analytics/bottlenecks"):
        _period(query, _twelve_weeks_before, max_days=371)
    elif body is not None and path.endswith("/compliance/certificates") and case.method.upper() == "POST":
        _period(body, _month_start)
    elif body is not None and path.endswith("/assignments"):
        starts, ends = _day(body.get("starts_on")), _day(body.get("ends_on"))
        if ends is not None and ends < (starts or _today()):
            body["ends_on"] = (starts or _today()).isoformat()
    elif body is not None and path.endswith("/compliance/physical-files"):
        for item in body.get("files") or []:
            opened = _day(item.get("opened_on")) if isinstance(item, dict) else None
            if opened is not None and opened > _today():
                item["opened_on"] = _today().isoformat()
    return case


@schemathesis.hook
def filter_case(context, case):
    if _positive(case) and case.operation.path.endswith("/search") and isinstance(case.query, dict):
        q = case.query.get("q")
        return not isinstance(q, str) or _balanced(q)
    return True
