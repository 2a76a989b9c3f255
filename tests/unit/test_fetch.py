"""The SSRF-safe fetcher against a real local HTTP server.

The server listens on 127.0.0.1, which the default policy refuses (that is tested first). Tests that
need to fetch from it grant exactly that address through `allowed_networks`, the operator setting,
and still see every other non-public address, and redirects to them, refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.errors import FetchError, FetchRefused
from infra.fetch import Fetcher, FetchPolicy, sniff
from streams.bench import synthetic
from tests.support.media_server import MediaServer

PNG = synthetic.encode(synthetic.scene(1))
MP4 = synthetic.video(1, seconds=1)


@pytest.fixture(scope="module")
def server() -> Iterator[MediaServer]:
    with MediaServer() as running:
        running.add("/img", PNG, content_type="text/html")  # the header lies; bytes decide
        running.add("/clip", MP4, content_type="image/jpeg")
        running.add("/page", b"<html><body>hello</body></html>" * 4, content_type="image/png")
        running.add("/slow", PNG, delay=2.0)
        running.add("/big", b"\xff\xd8\xff" + b"0" * 5000, content_type="image/jpeg")
        yield running


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


async def refused(url: str, policy: FetchPolicy | None = None) -> FetchError:
    fetcher = Fetcher(policy or FetchPolicy())
    try:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(url)
    finally:
        await fetcher.aclose()
    return caught.value


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (carrier NAT)
        "0.0.0.0",
        "224.0.0.1",
        "[::1]",
        "[fe80::1]",
        "[fc00::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
        "localhost",  # a name that resolves to loopback, through the real resolver
    ],
)
async def test_the_default_policy_refuses_non_public_addresses(
    server: MediaServer, host: str
) -> None:
    error = await refused(server.url("/img", host))
    assert isinstance(error, FetchRefused)
    assert error.reason == "refused_address"
    assert server.hosts_seen == []  # refused before connecting: the server saw nothing


async def test_a_name_with_any_private_address_is_refused() -> None:
    policy = FetchPolicy(resolver=resolver({"cdn.example": ["93.184.216.34", "10.1.1.1"]}))
    error = await refused("http://cdn.example/a.png", policy)
    assert error.reason == "refused_address"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://x/"])
async def test_only_http_and_https_are_fetched(url: str) -> None:
    error = await refused(url)
    assert isinstance(error, FetchRefused)
    assert error.reason == "refused_scheme"


def allow_local(**kw: object) -> FetchPolicy:
    return FetchPolicy.build(allowed_networks=["127.0.0.1/32"], **kw)


async def test_an_allowed_network_is_fetched_and_the_type_comes_from_the_bytes(
    server: MediaServer,
) -> None:
    fetcher = Fetcher(allow_local())
    try:
        image = await fetcher.fetch(server.url("/img"))
        clip = await fetcher.fetch(server.url("/clip"))
    finally:
        await fetcher.aclose()
    assert (image.content_type, image.kind, image.body) == ("image/png", "image", PNG)
    assert (clip.content_type, clip.kind) == ("video/mp4", "video")
    error = await refused(server.url("/page"), allow_local())
    assert error.reason == "unsupported_type"


async def test_redirects_to_refused_addresses_are_refused(server: MediaServer) -> None:
    policy = allow_local(resolver=resolver({"internal.example": ["10.0.0.5"]}))
    server.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    server.redirect("/to-other-loopback", f"http://127.0.0.2:{server.port}/img")
    server.redirect("/to-name", "http://internal.example/img")
    server.redirect("/to-file", "file:///etc/passwd")
    for path in ("/to-metadata", "/to-other-loopback", "/to-name"):
        error = await refused(server.url(path), policy)
        assert error.reason == "refused_address", path
    assert (await refused(server.url("/to-file"), policy)).reason == "refused_scheme"


async def test_limits_on_redirects_size_and_time(server: MediaServer) -> None:
    for n in range(5):
        server.redirect(f"/hop{n}", server.url(f"/hop{n + 1}"))
    server.redirect("/hop5", server.url("/img"))
    assert (await refused(server.url("/hop0"), allow_local())).reason == "too_many_redirects"
    fetcher = Fetcher(allow_local(max_redirects=6))
    try:
        assert (await fetcher.fetch(server.url("/hop0"))).body == PNG
    finally:
        await fetcher.aclose()
    assert (await refused(server.url("/big"), allow_local(max_bytes=1000))).reason == "too_large"
    assert (await refused(server.url("/slow"), allow_local(timeout=0.5))).reason == "timeout"
    assert (await refused(server.url("/missing"), allow_local())).reason == "http_status"


async def test_the_vetted_address_is_pinned_and_the_host_header_kept(server: MediaServer) -> None:
    """A name is resolved once, by the policy; the connection goes to that address."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    fetcher = Fetcher(allow_local(resolver=resolve))
    try:
        fetched = await fetcher.fetch(server.url("/img", host="media.test"))
    finally:
        await fetcher.aclose()
    assert fetched.body == PNG
    assert calls == ["media.test"]
    assert server.hosts_seen[-1] == f"media.test:{server.port}"


def test_sniffing() -> None:
    assert sniff(PNG[:32]) == "image/png"
    assert sniff(synthetic.encode(synthetic.scene(2), "JPEG")[:32]) == "image/jpeg"
    assert sniff(MP4[:32]) == "video/mp4"
    assert sniff(b"GIF89a....") == "image/gif"
    assert sniff(b"<svg xmlns=...>") is None
