"""The SSRF guard's judgement: policies, addresses, URLs. No test here sends a packet anywhere.

Names are resolved by stub resolvers (or are numeric forms the C library parses without a lookup), and addresses are
judged without connecting.
"""

from __future__ import annotations

import ipaddress

import pytest

from services.netguard import (
    AddressGuard,
    EndpointPolicyError,
    Resolver,
    address_problem,
    check_endpoint_url,
    policy_from_env,
)

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # Azure, AWS and GCP metadata
    ("fd00:ec2::254", "private"),  # AWS metadata over IPv6 (unique local)
    ("fe80::1", "link-local"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "reserved"),  # carrier-grade NAT: not global
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
]
PUBLIC = ["8.8.8.8", "20.42.65.92", "2001:4860:4860::8888", "::ffff:20.42.65.92"]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_are_refused_with_their_kind(address: str, kind: str) -> None:
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None and kind in problem


def test_teredo_is_judged_by_the_ipv4_address_it_carries() -> None:
    # Teredo keeps the client's IPv4 address inverted in the last 32 bits: 127.0.0.1 -> 80ff:fffe.
    address = ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:80ff:fffe")
    assert address.teredo is not None and str(address.teredo[1]) == "127.0.0.1"
    assert "loopback" in (address_problem(address) or "")


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("environ", "listen", "expected"),
    [
        ({}, "127.0.0.1", "any"),
        ({}, "localhost", "any"),
        ({}, "::1", "any"),
        ({}, None, "public-only"),  # Streamlit's default: every interface
        ({}, "", "public-only"),
        ({}, "0.0.0.0", "public-only"),
        ({}, "10.0.0.5", "public-only"),
        ({"PLAYGROUND_USER_ENDPOINTS": "off"}, "127.0.0.1", "off"),
        ({"PLAYGROUND_USER_ENDPOINTS": "ANY"}, "0.0.0.0", "any"),
        ({"PLAYGROUND_USER_ENDPOINTS": " public-only "}, "127.0.0.1", "public-only"),
    ],
)
def test_policy_comes_from_the_environment_or_where_the_app_listens(
    environ: dict[str, str], listen: str | None, expected: str
) -> None:
    assert policy_from_env(environ, listen) == expected


def test_a_misspelt_policy_is_an_error_naming_the_choices() -> None:
    with pytest.raises(EndpointPolicyError, match="off, public-only, any"):
        policy_from_env({"PLAYGROUND_USER_ENDPOINTS": "public"}, "127.0.0.1")


def _resolver(table: dict[str, list[str]]) -> Resolver:
    def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


PUBLIC_ONLY = AddressGuard(
    "public-only",
    resolver=_resolver(
        {
            "api.example.com": ["20.42.65.92"],
            "metadata.example.com": ["169.254.169.254"],
            "split.example.com": ["20.42.65.92", "10.0.0.7"],  # one public and one private answer
            "internal.example.com": ["fd00:ec2::254"],
        }
    ),
)


def test_a_public_host_passes_the_url_check() -> None:
    check_endpoint_url("https://api.example.com/models", PUBLIC_ONLY)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://metadata.example.com/latest", "link-local"),
        ("https://split.example.com", "private-network"),
        ("https://internal.example.com", "private-network"),
        ("http://127.0.0.1:8800/smollm2-135m-instruct", "loopback"),
        ("http://[::1]:8800", "loopback"),
        ("http://[::ffff:7f00:1]:8800", "loopback"),
        ("http://169.254.169.254/metadata/instance", "link-local"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
        ("http://0x7f.1/", "loopback"),  # and in inet_aton's short hex form
        ("http://localhost:8800", "loopback"),
    ],
)
def test_non_public_hosts_are_refused_before_anything_is_sent(url: str, words: str) -> None:
    guard = AddressGuard("public-only", resolver=PUBLIC_ONLY.resolver)
    if "example.com" not in url:
        # Numeric forms and localhost: the system resolver answers them locally, without a packet.
        guard = AddressGuard("public-only")
    with pytest.raises(EndpointPolicyError, match=words):
        check_endpoint_url(url, guard)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://api.example.com", "http:// or https://"),
        ("ftp://api.example.com", "http:// or https://"),
        ("https://user:secret@api.example.com", "user name or password"),
        ("https://token@api.example.com", "user name or password"),
        ("https:///nohost", "no host"),
        ("https://api.example.com:99999", "invalid port"),
    ],
)
def test_bad_schemes_credentials_and_shapes_are_refused(url: str, words: str) -> None:
    with pytest.raises(EndpointPolicyError, match=words):
        check_endpoint_url(url, PUBLIC_ONLY)


def test_any_lets_internal_hosts_through_and_off_refuses_everything() -> None:
    check_endpoint_url("http://127.0.0.1:8800", AddressGuard("any"))
    with pytest.raises(EndpointPolicyError, match="switched off"):
        check_endpoint_url("https://api.example.com", AddressGuard("off", resolver=PUBLIC_ONLY.resolver))


def test_the_refusal_says_what_to_do() -> None:
    with pytest.raises(EndpointPolicyError) as caught:
        PUBLIC_ONLY.checked_addresses("metadata.example.com", 443)
    text = str(caught.value)
    assert "metadata.example.com (169.254.169.254)" in text
    assert "PLAYGROUND_USER_ENDPOINTS=public-only" in text and "operator" in text
