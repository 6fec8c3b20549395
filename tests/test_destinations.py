"""The destination policy, as pure functions: every spelling of an address is judged as a socket
would reach it (issue 13.5). The sandbox tests (test_hostile_network.py) show it keeps requests
from ever being sent."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from peppolnet.destinations import (
    LOOPBACK_ALLOWED,
    PUBLIC_ONLY,
    AddressClass,
    DestinationPolicy,
    classify,
    host_address,
    redact_text,
    redact_url,
)
from peppolnet.errors import DestinationRefused, InvalidInput
from peppolnet.network import PRODUCTION, TEST, network_by_name

LOOPBACK = AddressClass.LOOPBACK

SPELLINGS = [
    # IPv4 in every form inet_aton (and so getaddrinfo) and the URL Standard accept
    ("127.0.0.1", LOOPBACK),
    ("2130706433", LOOPBACK),
    ("0x7f.1", LOOPBACK),
    ("0x7F000001", LOOPBACK),
    ("0177.0.0.1", LOOPBACK),
    ("127.1", LOOPBACK),
    ("127.0.1", LOOPBACK),
    ("127.0.0.1.", LOOPBACK),
    ("%31%32%37.0.0.1", LOOPBACK),
    ("\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11", LOOPBACK),  # full width
    ("127\u30020\u30020\u30021", LOOPBACK),  # ideographic full stops
    # IPv6, and IPv6 that leads to an IPv4 address
    ("[::1]", LOOPBACK),
    ("[0:0:0:0:0:0:0:1]", LOOPBACK),
    ("[::ffff:127.0.0.1]", LOOPBACK),
    ("[::ffff:7f00:1]", LOOPBACK),
    ("[2002:7f00:1::]", LOOPBACK),  # 6to4
    ("[64:ff9b::127.0.0.1]", LOOPBACK),  # NAT64
    ("localhost", LOOPBACK),
    ("LOCALHOST.", LOOPBACK),
    ("smp.localhost", LOOPBACK),
    ("[fe80::1%25eth0]", AddressClass.LINK_LOCAL),
    ("169.254.169.254", AddressClass.LINK_LOCAL),  # a cloud's metadata service
    ("0xa9.0xfe.0xa9.0xfe", AddressClass.LINK_LOCAL),
    ("10.0.0.1", AddressClass.PRIVATE),
    ("167772161", AddressClass.PRIVATE),
    ("172.16.5.4", AddressClass.PRIVATE),
    ("192.168.1.1", AddressClass.PRIVATE),
    ("100.64.0.1", AddressClass.PRIVATE),
    ("[fd12:3456::1]", AddressClass.PRIVATE),
    ("[::ffff:10.0.0.1]", AddressClass.PRIVATE),
    ("224.0.0.1", AddressClass.MULTICAST),
    ("[ff02::1]", AddressClass.MULTICAST),
    ("0.0.0.0", AddressClass.UNSPECIFIED),
    ("0", AddressClass.UNSPECIFIED),
    ("[::]", AddressClass.UNSPECIFIED),
    ("0.1.2.3", AddressClass.RESERVED),
    ("240.0.0.1", AddressClass.RESERVED),
    ("255.255.255.255", AddressClass.RESERVED),
    ("192.0.2.10", AddressClass.RESERVED),  # documentation
    ("[2001:db8::1]", AddressClass.RESERVED),
]


@pytest.mark.parametrize(("host", "kind"), SPELLINGS)
def test_every_spelling_is_refused_by_the_production_policy(host: str, kind: AddressClass) -> None:
    url = f"https://{host}:8443/smp"
    refusal = PRODUCTION.destinations.refusal(url)
    assert refusal is not None
    assert kind.phrase in refusal
    with pytest.raises(DestinationRefused) as caught:
        TEST.destinations.check_url(url, "the SMP URL")
    assert caught.value.address_class is kind
    assert not caught.value.retryable  # the data must change, not the moment
    # widened by exactly that class, the URL passes
    assert DestinationPolicy.allowing(kind).refusal(url) is None


@pytest.mark.parametrize(
    "url",
    ["https://smp.example.com/", "https://8.8.8.8/", "https://[2a00:1450::1]/", "https://smp/x"],
)
def test_public_addresses_and_names_pass(url: str) -> None:
    assert PUBLIC_ONLY.refusal(url) is None  # names are judged where they are connected to


def test_credentials_are_refused_by_every_policy_and_never_shown() -> None:
    everything = DestinationPolicy.allowing(*AddressClass)
    for policy in (PUBLIC_ONLY, LOOPBACK_ALLOWED, everything):
        refusal = policy.refusal("https://alice:s3cret@smp.example.com/path")
        assert refusal is not None
        assert "s3cret" not in refusal
        assert "alice" not in refusal
        assert "***@smp.example.com" in refusal
    with pytest.raises(DestinationRefused) as caught:
        everything.check_url("https://token@smp.example.com/", "the SMP URL")
    assert caught.value.address_class is None
    assert "token" not in str(caught.value)


def test_redaction() -> None:
    assert redact_url("https://u:p@h.example:8443/a?b") == "https://***@h.example:8443/a?b"
    assert redact_url("https://h.example/a@b") == "https://h.example/a@b"  # @ in the path
    record = '100 10 "U" "Meta:SMP" "!.*!https://u:pw@smp.example!" .'
    assert "pw" not in redact_text(record)


def test_networks_carry_their_policy() -> None:
    assert PRODUCTION.destinations == PUBLIC_ONLY
    assert TEST.destinations == PUBLIC_ONLY
    assert network_by_name("legacy-g2-test").destinations == PUBLIC_ONLY
    wider = TEST.replace(destinations=DestinationPolicy.allowing("private"))
    assert wider.destinations.refusal("https://10.1.2.3/") is None
    assert wider.destinations.refusal("https://127.0.0.1/") is not None
    assert TEST.destinations.refusal("https://10.1.2.3/") is not None  # the original is unchanged


def test_a_policy_can_allow_one_range_only() -> None:
    policy = DestinationPolicy.allowing(networks=["10.20.0.0/16"])
    assert policy.refusal("https://10.20.3.4/") is None
    assert policy.refusal("https://[::ffff:10.20.3.4]/") is None
    assert policy.refusal("https://10.21.0.1/") is not None
    with pytest.raises(InvalidInput):
        DestinationPolicy.allowing("intranet")
    with pytest.raises(InvalidInput):
        DestinationPolicy.allowing(networks=["10.0.0.0/33"])


def test_a_name_that_resolves_to_several_addresses_must_pass_with_all() -> None:
    public, private = ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.1")
    PUBLIC_ONLY.check_addresses([public], "smp.example")
    with pytest.raises(DestinationRefused, match=r"smp\.example resolves to 10\.0\.0\.1"):
        PUBLIC_ONLY.check_addresses([public, private], "smp.example")  # DNS rebinding's shape


# --- every spelling of every address (property tests) -------------------------------------------


def _spell(number: int, style: str) -> str:
    if style == "hex":
        return f"0x{number:x}"
    if style == "HEX":
        return f"0X{number:X}"
    if style == "oct":
        return f"0{number:o}"
    return str(number)


@st.composite
def ipv4_spellings(draw: st.DrawFn) -> tuple[ipaddress.IPv4Address, str]:
    """An IPv4 address and one of the ways to write it: 1 to 4 parts (the last part fills the
    remaining bytes), each decimal, hexadecimal or octal."""
    address = ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
    parts = draw(st.integers(1, 4))
    packed = address.packed
    numbers = [*packed[: parts - 1], int.from_bytes(packed[parts - 1 :], "big")]
    styles = st.sampled_from(["dec", "hex", "HEX", "oct"])
    return address, ".".join(_spell(n, draw(styles)) for n in numbers)


@given(ipv4_spellings())
@example((ipaddress.IPv4Address("127.0.0.1"), "0x7f.1"))
@example((ipaddress.IPv4Address("127.0.0.1"), "2130706433"))
def test_any_ipv4_spelling_reads_as_its_address(case: tuple[ipaddress.IPv4Address, str]) -> None:
    address, host = case
    assert host_address(host) == address
    assert host_address(host + ".") == address
    # the operating system's parser (what getaddrinfo uses for numeric hosts) agrees
    assert socket.inet_aton(host) == address.packed
    refused = PUBLIC_ONLY.refusal(f"https://{host}/")
    assert (refused is None) == (classify(address) is None)


@given(st.integers(0, 2**32 - 1), st.sampled_from(["mapped", "hex", "upper", "expanded"]))
def test_ipv6_spellings_of_ipv4_are_judged_as_the_ipv4_address(number: int, style: str) -> None:
    v4 = ipaddress.IPv4Address(number)
    high, low = number >> 16, number & 0xFFFF
    host = {
        "mapped": f"::ffff:{v4}",
        "hex": f"::ffff:{high:x}:{low:x}",
        "upper": f"::FFFF:{high:X}:{low:X}",
        "expanded": f"0:0:0:0:0:ffff:{high:04x}:{low:04x}",
    }[style]
    assert classify(ipaddress.IPv6Address(host)) == classify(v4)
    refused = PUBLIC_ONLY.refusal(f"https://[{host}]:443/")
    assert (refused is None) == (classify(v4) is None)


@given(st.ip_addresses())
def test_classify_agrees_with_the_standard_library_on_what_is_global(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    """Whatever the standard library does not call global is never let through."""
    kind = classify(address)
    if not address.is_global:
        assert kind is not None
    if kind is None:
        assert PUBLIC_ONLY.refused_class(address) is None
    else:
        assert DestinationPolicy.allowing(kind).refused_class(address) is None


@given(st.text(min_size=1, max_size=40))
def test_any_host_text_is_judged_without_an_exception(host: str) -> None:
    try:
        PUBLIC_ONLY.refusal(f"https://{host}/")
    except DestinationRefused:  # pragma: no cover - refusal() answers, it does not raise
        raise
