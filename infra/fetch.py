"""Fetching media URLs safely (SSRF guard): the worker and the API both use this.

What a fetch may do, decided by `FetchPolicy`:
- only `http` and `https`;
- every hop (each redirect too) is resolved once, and *every* address the name resolves to must be
  public: loopback, private, link-local, multicast, shared, reserved and unspecified addresses are
  refused (IPv4-mapped IPv6 is judged as the IPv4 it maps). `allowed_networks` lists the
  exceptions an operator (or a test) grants explicitly, e.g. an internal CDN;
- the connection goes to the address that was vetted, never to a second resolution: the transport
  pins it (`_PinnedBackend` connects to the vetted IP; the URL keeps the name, so the Host header,
  TLS SNI and certificate check still use the name). DNS rebinding between the check and the
  connect cannot happen, and a name that was not vetted cannot be connected to at all;
- at most `max_redirects` redirects, `max_bytes` bytes (Content-Length is checked first, the body
  is counted as it streams) and `timeout` seconds in all; no proxies from the environment.

The content type is sniffed from the first bytes (`sniff`), never taken from the headers. Errors are
`FetchRefused` (the policy said no) or `FetchError` (the network or the server did), each with a
short reason code that ends up in the verdict.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpcore
import httpx

from infra.errors import FetchError, FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) → the addresses it resolves to, as strings."""

MediaKind = Literal["image", "video"]
USER_AGENT = "modstream-media-fetcher/1"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = 20 * 2**20
    timeout: float = 15.0
    max_redirects: int = 3
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def build(cls, *, allowed_networks: Iterable[str] = (), **kwargs: Any) -> FetchPolicy:
        nets = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        return cls(allowed_networks=nets, **kwargs)

    def address_allowed(self, address: IPAddress) -> bool:
        """Public unicast addresses, or addresses inside an explicitly allowed network."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allowed_networks):
            return True
        return address.is_global and not address.is_multicast

    async def vet(self, host: str, port: int) -> str:
        """Resolve `host` once and return the address to connect to, or raise `FetchRefused`."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await self.resolver(host, port)
            except OSError as exc:
                raise FetchError("dns_failed", f"cannot resolve {host!r}: {exc}") from exc
        if not addresses:
            raise FetchError("dns_failed", f"{host!r} resolves to nothing")
        refused = [a for a in addresses if not self.address_allowed(ipaddress.ip_address(a))]
        if refused:
            raise FetchRefused(
                "refused_address", f"{host!r} resolves to a non-public address {refused[0]}"
            )
        return addresses[0]


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the transport vetted for this host name."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.pins: dict[str, str] = {}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = self.pins.get(host)
        if address is None:  # never connect to a name nobody vetted
            raise httpcore.ConnectError(f"no vetted address for {host!r}")
        return await self._inner.connect_tcp(
            address, port, timeout=timeout, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that vets every request's host with the policy and pins the address."""

    def __init__(self, policy: FetchPolicy, *, max_connections: int = 64) -> None:
        self.policy = policy
        self._backend = _PinnedBackend()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=max_connections,
            network_backend=self._backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise FetchRefused("refused_scheme", f"scheme {url.scheme!r} is not fetched")
        port = url.port or (443 if url.scheme == "https" else 80)
        self._backend.pins[url.host] = await self.policy.vet(url.host, port)
        response = await self._pool.handle_async_request(
            httpcore.Request(
                method=request.method,
                url=httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
        )
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str
    """The final URL, after redirects."""
    body: bytes
    content_type: str
    """Sniffed from the bytes, e.g. `image/png`."""
    kind: MediaKind


NETWORK_ERRORS = (httpx.HTTPError, httpcore.NetworkError, httpcore.ProtocolError, OSError)


class Fetcher:
    """Fetches media URLs under one policy; share one per process (it pools connections)."""

    def __init__(self, policy: FetchPolicy, *, max_video_bytes: int | None = None) -> None:
        self.policy = policy
        self.max_video_bytes = max_video_bytes or policy.max_bytes
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(policy),
            follow_redirects=True,
            max_redirects=policy.max_redirects,
            timeout=httpx.Timeout(policy.timeout, connect=min(5.0, policy.timeout)),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "image/*, video/*",
                "Accept-Encoding": "identity",  # bytes as stored: nothing to inflate
            },
            trust_env=False,
        )

    async def fetch(self, url: str) -> Fetched:
        try:
            async with asyncio.timeout(self.policy.timeout):
                return await self._fetch(url)
        except TimeoutError as exc:
            raise FetchError(
                "timeout", f"no complete answer within {self.policy.timeout:g}s"
            ) from exc
        except httpx.TooManyRedirects as exc:
            raise FetchRefused("too_many_redirects", str(exc)) from exc
        except httpx.UnsupportedProtocol as exc:
            raise FetchRefused("refused_scheme", str(exc)) from exc
        except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
            raise FetchError("timeout", str(exc) or type(exc).__name__) from exc
        except NETWORK_ERRORS as exc:
            raise FetchError("network", str(exc)[:300] or type(exc).__name__) from exc

    async def _fetch(self, url: str) -> Fetched:
        limit = max(self.policy.max_bytes, self.max_video_bytes)
        async with self._client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FetchError("http_status", f"HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchRefused("too_large", f"Content-Length {declared} exceeds {limit}")
            chunks: list[bytes] = []
            size = 0
            kind: MediaKind | None = None
            async for chunk in response.aiter_raw():  # raw: no decompression of gzip bombs
                chunks.append(chunk)
                size += len(chunk)
                if kind is None and 16 <= size <= 64 * 1024:
                    kind = _kind_of(b"".join(chunks))
                cap = self.max_video_bytes if kind == "video" else self.policy.max_bytes
                if size > cap:
                    raise FetchRefused("too_large", f"body exceeds {cap} bytes")
            body = b"".join(chunks)
            content_type = sniff(body)
            if content_type is None:
                raise FetchRefused("unsupported_type", "not a supported image or video format")
            return Fetched(str(response.url), body, content_type, _kind(content_type))

    async def aclose(self) -> None:
        await self._client.aclose()


_SIGNATURES: Sequence[tuple[int, bytes, str]] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (4, b"ftyp", "video/mp4"),
)


def sniff(head: bytes) -> str | None:
    """The media type from the leading bytes, or None if it is not one we decode."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "video/mp2t"
    for offset, magic, media_type in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if media_type == "video/mp4" and head[8:12] in (b"avif", b"avis", b"heic", b"mif1"):
                return None  # still images in an ISO container: not decoded here
            return media_type
    return None


def _kind(content_type: str) -> MediaKind:
    return "video" if content_type.startswith("video/") else "image"


def _kind_of(head: bytes) -> MediaKind | None:
    found = sniff(head)
    return _kind(found) if found else None
