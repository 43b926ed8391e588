"""Who the console answers: requests addressed to it by name, and changes from its own page.

Any web page the user has open can send requests to http://127.0.0.1:8765. Two ways it
could use that, and what stops each:

- **DNS rebinding**: ``attacker.example`` is made to resolve to 127.0.0.1, so the page reads
  the console's answers (executions, records, face images, email addresses) as its own
  origin. The browser still sends ``Host: attacker.example``; the console answers only the
  host names it is bound to (Starlette's ``TrustedHostMiddleware``, 400 for any other).
- **Cross-site request forgery**: a page elsewhere POSTs an image (``Content-Type:
  text/plain`` needs no CORS preflight), which starts an execution, or with ``--aws`` stores
  it in the deployed bucket with the user's credentials. Browsers say where a request comes
  from (``Origin``, ``Sec-Fetch-Site``, ``Referer``); every request but GET and HEAD that a
  browser says comes from another origin is refused with 403. Clients that send none of
  these headers (curl, scripts) are not browsers driven by a foreign page and are let through.

The console answers no CORS preflight (there is no CORS middleware), so a foreign page can
never send the ``X-Filename`` header the console's own upload script sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# The names a browser on this machine uses for a console bound to loopback.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Addresses that mean "every interface": not a name any client sends in Host.
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "[::]")
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Sec-Fetch-Site values of a request the console's own page (or the user) made.
_OWN_SITE = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_name(address: str) -> str:
    """``address`` as it appears in a Host header: lower case, IPv6 literals in brackets."""
    name = address.strip().lower()
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return name


def allowed_hosts(bind_host: str | None = None, extra: Iterable[str] = ()) -> list[str]:
    """Loopback names, the address the console listens on (unless a wildcard), and ``extra``.

    Raises ValueError for a ``*`` pattern: allowing any host would let DNS rebinding in.
    """
    names = list(LOOPBACK_HOSTS)
    candidates = [bind_host] if bind_host and bind_host not in WILDCARD_ADDRESSES else []
    for given in [*candidates, *extra]:
        if "*" in given:
            raise ValueError(f"host {given!r}: give host names, not patterns")
        name = host_name(given)
        if name and name not in names:
            names.append(name)
    return names


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, or None when it has none (``null``, garbage)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def cross_origin_refusal(scheme: str, headers: Headers) -> str | None:
    """Why a state-changing request must be refused, or None when it comes from our page.

    Own origin: the scheme the request arrived on and its Host header (already checked
    against the allowed names).
    """
    own_url = f"{scheme}://{headers.get('host', '')}"
    own = _origin(own_url)
    origin = headers.get("origin")
    site = headers.get("sec-fetch-site")
    where = f"this console accepts changes only from its own page ({own_url})"
    if origin is not None and (own is None or _origin(origin) != own):
        return f"{where}; the browser says this request came from {origin[:200]!r}"
    if site is not None and site.lower() not in _OWN_SITE:
        return f"{where}; the browser says this request came from another site ({site[:40]})"
    referer = headers.get("referer")
    if origin is None and site is None and referer and _origin(referer) != own:
        return f"{where}; the browser says this request came from {referer[:200]!r}"
    return None


class SameOriginWrites:
    """ASGI middleware: 403 (JSON) for a write that a browser says came from another origin."""

    def __init__(self, app: ASGIApp, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = headers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            refusal = cross_origin_refusal(scope["scheme"], Headers(scope=scope))
            if refusal is not None:
                response = JSONResponse({"error": refusal}, 403, headers=self.headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
