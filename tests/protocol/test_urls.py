"""The URL policy, checked on addresses alone: nothing here connects or asks DNS.

Names resolve through an injected resolver; a guard makes any connection attempt
fail the test, so 10.0.0.1, 169.254.169.254 and fd00::1 are judged without a
packet being sent.
"""
from __future__ import annotations

import ipaddress

import socket
from typing import Callable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from t2i_contract.protocol.outbound_errors import InvalidUrl, Unreachable, UrlRefused
from t2i_contract.protocol.urls import ALLOW_LIST_FLAG, PRIVATE_URLS_FLAG, UrlPolicy, allows_private, classify
from t2i_contract.spec import load_spec


@pytest.fixture(autouse=True)
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the policy tried to connect: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def answering(*addresses: str) -> Callable[[str, int], Sequence[str]]:
    return lambda host, port: addresses


def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"{host} should not need DNS")


LOOPBACK_SPELLINGS = [
    "http://127.0.0.1/hook", "http://127.1/hook", "http://0/hook", "http://0x7f000001/hook",
    "http://2130706433/hook", "http://0177.0.0.1/hook", "http://0x7f.1/hook", "http://127.0.0.1./hook",
    "http://[::1]/hook", "http://[0:0:0:0:0:0:0:1]/hook", "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:7f00:1]/hook", "http://localhost/hook", "http://LOCALHOST./hook", "http://api.localhost/hook",
    "HTTP://127.0.0.1:8080/hook", "http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/hook",
]


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_without_dns(url: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        UrlPolicy(resolver=no_dns).check(url, field="webhook")
    assert caught.value.category in ("loopback", "unspecified")
    message = str(caught.value)
    assert message.startswith("webhook ") and ALLOW_LIST_FLAG in message
    assert caught.value.to_body()["errors"][0] == {
        "field": "webhook", "rule": "url_policy", "message": message, "value": url}


ADDRESSES = [
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
    ("fd00::1", "private"), ("fc00::1", "private"), ("100.64.0.1", "shared"), ("100.127.255.254", "shared"),
    ("169.254.169.254", "link_local"), ("fe80::1", "link_local"), ("::ffff:169.254.169.254", "link_local"),
    ("64:ff9b::a9fe:a9fe", "embedded_ipv4"), ("2002:a9fe:a9fe::1", "embedded_ipv4"), ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::7f00:1", "embedded_ipv4"), ("64:ff9b:1::7f00:1", "embedded_ipv4"), ("2002:7f00:1::", "embedded_ipv4"),
    ("::127.0.0.1", "embedded_ipv4"), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "embedded_ipv4"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("192.0.2.1", "reserved"),
    ("2001:db8::1", "reserved"), ("127.0.0.53", "loopback"),
]


@pytest.mark.parametrize(("address", "category"), ADDRESSES, ids=[a for a, _ in ADDRESSES])
def test_resolved_internal_addresses_are_refused_naming_host_and_address(address: str, category: str) -> None:
    policy = UrlPolicy(resolver=answering(address))
    with pytest.raises(UrlRefused) as caught:
        policy.check("https://images.example/cat.png", field="init_image")
    err = caught.value
    assert (err.category, err.host) == (category, "images.example")
    assert "init_image" in str(err) and "images.example" in str(err)
    assert f"{ALLOW_LIST_FLAG} images.example" in str(err)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_pass_and_are_the_only_ones_connected_to(address: str) -> None:
    target = UrlPolicy(resolver=answering(address)).check("https://Images.Example./a/b.png?x=1")
    assert (target.host, target.port, target.path, target.addresses) == (
        "images.example", 443, "/a/b.png?x=1", (address,))


def test_one_refused_address_among_public_ones_refuses_the_url() -> None:
    policy = UrlPolicy(resolver=answering("93.184.216.34", "10.0.0.1"))
    with pytest.raises(UrlRefused) as caught:
        policy.check("http://mixed.example/")
    assert caught.value.address == "10.0.0.1"


def test_allow_private_opens_loopback_private_and_cgnat_only() -> None:
    for address in ("127.0.0.1", "10.0.0.1", "fd00::1", "100.64.0.1", "::ffff:192.168.0.1"):
        UrlPolicy(allow_private=True, resolver=answering(address)).check("http://svc.internal/")
    for address in ("169.254.169.254", "fe80::1", "224.0.0.1", "0.0.0.0", "240.0.0.1"):
        with pytest.raises(UrlRefused) as caught:
            UrlPolicy(allow_private=True, resolver=answering(address)).check("http://svc.internal/")
        assert caught.value.flags == (ALLOW_LIST_FLAG,)
        assert f"{PRIVATE_URLS_FLAG} allow does not" in str(caught.value)


def test_a_private_refusal_names_both_flags() -> None:
    with pytest.raises(UrlRefused) as caught:
        UrlPolicy().check("http://10.0.0.1:6379/")
    assert caught.value.flags == (PRIVATE_URLS_FLAG, ALLOW_LIST_FLAG)
    assert f"{PRIVATE_URLS_FLAG} allow" in str(caught.value) and f"{ALLOW_LIST_FLAG} 10.0.0.1" in str(caught.value)


@pytest.mark.parametrize(("allow", "url"), [
    (("169.254.169.254",), "http://169.254.169.254/latest/meta-data"),
    (("169.254.0.0/16",), "http://169.254.1.2/"),
    (("127.0.0.0/8",), "http://[::ffff:127.0.0.2]/"),
    (("[::1]",), "http://[::1]:9000/"),
    (("LocalHost.",), "http://localhost:9000/"),
    (("metadata.internal",), "http://metadata.internal/"),
], ids=["address", "cidr", "mapped-in-cidr", "bracketed-ipv6", "name-any-case", "name-resolving-link-local"])
def test_the_allow_list_opens_exactly_what_it_names(allow: tuple[str, ...], url: str) -> None:
    policy = UrlPolicy(allow=allow, resolver=answering("169.254.169.254"))
    assert policy.check(url).addresses
    with pytest.raises(UrlRefused):
        UrlPolicy(allow=("192.0.2.0/24",), resolver=answering("169.254.169.254")).check(url)


@pytest.mark.parametrize("entry", ["", "not a host", "10.0.0.0/33/1", "a/b"])
def test_a_bad_allow_entry_is_refused_at_construction(entry: str) -> None:
    with pytest.raises(ValueError, match=ALLOW_LIST_FLAG):
        UrlPolicy(allow=(entry,))


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://127.0.0.1:6379/_",
                                 "javascript:alert(1)", "//example.com/x", "example.com/x"])
def test_schemes_other_than_http_and_https_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused, match="only http:// and https://"):
        UrlPolicy(resolver=no_dns).check(url, field="webhook")


def test_upper_case_schemes_are_accepted() -> None:
    for url in ("HTTP://hooks.example/", "HtTpS://hooks.example/"):
        assert UrlPolicy(resolver=answering("93.184.216.34")).check(url).scheme in ("http", "https")


@pytest.mark.parametrize("url", [
    "http://user:pass@hooks.example/", "http://evil.example@127.0.0.1/", "http://hooks.example/a b",
    "http://hooks.example/\r\nX: y", "http://hooks.example:99999/", "http://hooks.example:0/", "http:///path",
    "http://1.2.3.4.5/", "http://256.0.0.1/", "http://0x1g.0.0.1/", "http://hooks.example\\@127.0.0.1/",
    "http://[::1/", "http://a..b/", "http://a%2e.example/", "http://a\u3000b.example/", "",
], ids=["credentials", "at-sign-confusion", "space", "crlf", "port-range", "port-0", "no-host", "five-parts",
        "octet-range", "bad-hex", "backslash", "bracket", "empty-label", "percent-in-host", "unicode-space", "empty"])
def test_malformed_urls_are_invalid_naming_the_field(url: str) -> None:
    with pytest.raises(InvalidUrl) as caught:
        UrlPolicy(resolver=no_dns).check(url, field="mask_image")
    assert caught.value.field == "mask_image" and caught.value.to_body()["errors"][0]["rule"] == "url"


def test_a_host_that_does_not_resolve_is_unreachable() -> None:
    def failing(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(Unreachable, match="nowhere.example does not resolve"):
        UrlPolicy(resolver=failing).check("http://nowhere.example/", field="webhook")


def test_the_host_is_resolved_once_per_check() -> None:
    calls: list[tuple[str, int]] = []

    def counting(host: str, port: int) -> Sequence[str]:
        calls.append((host, port))
        return ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")

    target = UrlPolicy(resolver=counting).check("https://cdn.example:8443/i.png")
    assert calls == [("cdn.example", 8443)] and len(target.addresses) == 2


def test_literal_hosts_are_canonical_in_the_target() -> None:
    policy = UrlPolicy(allow_private=True, resolver=no_dns)
    assert policy.check("http://0x7f000001:81/x").host == "127.0.0.1"
    mapped = policy.check("http://[::ffff:127.0.0.1]/")
    assert (mapped.host, mapped.addresses) == ("::ffff:7f00:1", ("127.0.0.1",))


def test_non_ascii_paths_are_percent_encoded() -> None:
    target = UrlPolicy(resolver=answering("93.184.216.34")).check("https://cdn.example/ä%20b/é.png?q=ü&r=1")
    assert target.path == "/%C3%A4%20b/%C3%A9.png?q=%C3%BC&r=1"


def test_classify_names_public_addresses_none() -> None:
    import ipaddress

    assert classify(ipaddress.ip_address("1.1.1.1")) is None
    assert classify(ipaddress.ip_address("::ffff:1.1.1.1")) is None
    assert classify(ipaddress.ip_address("::ffff:127.0.0.1")) == "loopback"


EMBEDDED = ["64:ff9b::7f00:1", "64:ff9b:1::7f00:1", "2002:7f00:1::", "::127.0.0.1", "2001:0:7f00:1::"]


@pytest.mark.parametrize("address", EMBEDDED)
def test_an_embedded_ipv4_form_is_judged_as_dialled_not_by_the_ipv4_inside(address: str) -> None:
    """Issue 18, item 10: allowing private addresses (or 127.0.0.0/8) does not open the IPv6 form."""
    for policy in (UrlPolicy(allow_private=True), UrlPolicy(allow=("127.0.0.0/8",))):
        with pytest.raises(UrlRefused) as caught:
            policy.check(f"http://[{address}]/hook")
        assert caught.value.category == "embedded_ipv4" and caught.value.flags == (ALLOW_LIST_FLAG,)
    network = str(ipaddress.ip_network(f"{address}/96", strict=False))
    dialled = UrlPolicy(allow=(network,)).check(f"http://[{address}]/hook").addresses
    assert dialled == (str(ipaddress.ip_address(address)),)  # as IPv6: that exact range was allowed


@pytest.mark.parametrize(("value", "allowed"), [("allow", True), ("ALLOW", True), ("deny", False)])
def test_the_private_urls_value_decides_the_policy(value: str, allowed: bool) -> None:
    """One option, one polarity on every server (issue 17): ``--private-urls allow|deny``."""
    policy = UrlPolicy(allow_private=allows_private(value), resolver=answering("10.0.0.1"))
    if allowed:
        assert policy.check("http://svc.internal/").addresses == ("10.0.0.1",)
    else:
        with pytest.raises(UrlRefused, match="--private-urls allow"):
            policy.check("http://svc.internal/")


@given(st.integers(min_value=0, max_value=2**32 - 1), st.sampled_from(["10.0.0.0/8", "127.0.0.0/8", "0.0.0.0/0"]))
def test_every_spelling_of_an_ipv4_address_gets_the_same_verdict(value: int, allowed: str) -> None:
    import ipaddress

    dotted = str(ipaddress.IPv4Address(value))
    spellings = [dotted, str(value), hex(value), f"{value >> 24}.{value & 0xFFFFFF}",
                 ".".join(f"0{int(part):o}" for part in dotted.split(".")), f"[::ffff:{dotted}]", dotted + "."]
    policy = UrlPolicy(allow=(allowed,), resolver=no_dns)
    verdicts = set()
    for spelling in spellings:
        try:
            verdicts.add(policy.check(f"http://{spelling}/").addresses)
        except UrlRefused as exc:
            verdicts.add(exc.address)
    assert verdicts in ({(dotted,)}, {dotted})


def test_the_protocol_error_handler_answers_a_refusal_with_400_naming_the_field() -> None:
    from t2i_contract.protocol.errors import error_answer

    with pytest.raises(UrlRefused) as caught:
        UrlPolicy().check("http://169.254.169.254/latest/meta-data/", field="webhook")
    status, body, _ = error_answer(caught.value)
    assert status == 400 and load_spec().responses.errors_at("/components/schemas/ErrorResponse", body) == []
    assert body["errors"][0]["field"] == "webhook" and "169.254.169.254" in body["message"]
