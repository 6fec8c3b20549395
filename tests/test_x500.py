"""Distinguished names read from their string form and compared as X.500 names (RFC 4517)."""

from __future__ import annotations

import string

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.errors import CertificateError
from peppolnet.x500 import names_match, parse_name

# The name in the vefa-peppol redirect sample's CertificateUID, here as a sequence that starts with
# C, so that the sample's spelling (C first) is the reverse of this name's RFC 4514 string.
SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Direktoratet for Forvaltning og IKT"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PEPPOL TEST SMP"),
        x509.NameAttribute(NameOID.COMMON_NAME, "PNO000179"),
    ]
)
SAMPLE_UID = "C=NO,O=Direktoratet for Forvaltning og IKT,OU=PEPPOL TEST SMP,CN=PNO000179"
COMMA = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Nordic SMP, AB"),
        x509.NameAttribute(NameOID.COMMON_NAME, "PSE000101"),
    ]
)


@pytest.mark.parametrize(
    "uid",
    [
        SAMPLE_UID,
        SUBJECT.rfc4514_string(),  # RFC 4514 order
        SAMPLE_UID.lower(),  # attribute types and values in another case
        SAMPLE_UID.upper(),
        "c=no, o=DIREKTORATET for forvaltning og ikt , ou=Peppol Test Smp, cn=pno000179",
        "C=NO;O=Direktoratet for Forvaltning og IKT;OU=PEPPOL TEST SMP;CN=PNO000179",  # RFC 2253
        "C = NO, O = Direktoratet for Forvaltning og IKT, OU = PEPPOL TEST SMP, CN = PNO000179",
        r"C=NO,O=Direktoratet  for Forvaltning og IKT,OU=\ PEPPOL TEST SMP\ ,CN=PNO000179",
        "2.5.4.6=NO,2.5.4.10=Direktoratet for Forvaltning og IKT,OU=PEPPOL TEST SMP,"
        "2.5.4.3=PNO000179",  # numeric attribute types
        "C=NO,O=Direktoratet\u00a0for Forvaltning og IKT,OU=PEPPOL TEST SMP,CN=PNO000179",
    ],
)
def test_spellings_of_the_same_name_match(uid: str) -> None:
    assert names_match(SUBJECT, parse_name(uid))
    assert names_match(parse_name(uid), SUBJECT)


@pytest.mark.parametrize(
    "uid",
    [
        r"C=SE,O=Nordic SMP\, AB,CN=PSE000101",
        r"C=SE,O=Nordic SMP\2C AB,CN=PSE000101",
        r"C=SE,O=Nordic SMP\2c AB,CN=PSE000101",
        r"cn=pse000101,o=NORDIC SMP\2C AB,c=se",
        r"C=SE,O=\4Eordic SMP\, AB,CN=PSE000101",  # any character may be a hex pair
    ],
)
def test_both_legal_escapes_are_one_character(uid: str) -> None:
    assert names_match(COMMA, parse_name(uid))


@pytest.mark.parametrize(
    "uid",
    [
        SAMPLE_UID.replace("PNO000179", "PNO000180"),  # another certificate
        SAMPLE_UID.replace("OU=PEPPOL TEST SMP,", ""),  # an RDN fewer
        SAMPLE_UID + ",L=Oslo",  # an RDN more
        "O=Direktoratet for Forvaltning og IKT,C=NO,OU=PEPPOL TEST SMP,CN=PNO000179",  # reordered
        SAMPLE_UID.replace("OU=PEPPOL TEST SMP", "OU=PEPPOLTEST SMP"),  # spaces between words count
        SAMPLE_UID.replace("OU=", "O="),  # the same value as another attribute
        "C=NO,O=Direktoratet for Forvaltning og IKT+OU=PEPPOL TEST SMP,CN=PNO000179",  # merged
    ],
)
def test_other_names_do_not_match(uid: str) -> None:
    assert not names_match(SUBJECT, parse_name(uid))


def test_only_the_spaces_around_an_attribute_types_equals_sign_go() -> None:
    # OpenSSL's "O = x" is "O=x", but a value's own "=" and the spaces around it are kept
    name = parse_name("CN = a = b , O=c=d")
    assert [a.value for a in name] == ["c=d", "a = b"]
    assert not names_match(name, parse_name("CN=a=b,O=c=d"))


def test_multi_valued_rdns_are_sets() -> None:
    name = parse_name("CN=a+O=b,C=SE")
    assert names_match(name, parse_name("o=B+cn=A,c=se"))
    assert not names_match(name, parse_name("CN=a,O=b,C=SE"))


@pytest.mark.parametrize(
    "text",
    ["", "   ", "garbage", "CN", "CN=a,,C=SE", "C=SWE", "X-UNKNOWN=1", "= NO", "CN=a\\"],
)
def test_text_that_is_no_name_is_refused(text: str) -> None:
    with pytest.raises(CertificateError, match="not a distinguished name"):
        parse_name(text)


def test_an_empty_name_matches_nothing() -> None:
    assert not names_match(x509.Name([]), x509.Name([]))


# --- properties ---------------------------------------------------------------------------------

_ATTRIBUTES = [
    ("CN", NameOID.COMMON_NAME),
    ("O", NameOID.ORGANIZATION_NAME),
    ("OU", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("L", NameOID.LOCALITY_NAME),
    ("ST", NameOID.STATE_OR_PROVINCE_NAME),
    ("SERIALNUMBER", NameOID.SERIAL_NUMBER),
]
_SPECIAL = ',+;"\\<>=#'
_WORD = st.text(
    alphabet=string.ascii_letters + string.digits + _SPECIAL + "-._", min_size=1, max_size=12
)  # three words stay within a common name's 64 characters, spaces and escapes added
_VALUE = st.lists(_WORD, min_size=1, max_size=3).map(" ".join)
_NAMES = st.lists(
    st.lists(st.tuples(st.sampled_from(_ATTRIBUTES), _VALUE), min_size=1, max_size=2).filter(
        lambda avas: len({a[0] for a, _ in avas}) == len(avas)
    ),
    min_size=1,
    max_size=4,
).map(
    lambda rdns: x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(oid, v) for (_, oid), v in rdn])
            for rdn in rdns
        ]
    )
)


@st.composite
def _respelled(draw: st.DrawFn, name: x509.Name) -> str:
    """Another legal spelling of ``name``: type and value case, escapes, spaces, order."""

    def value_text(value: str) -> str:
        recased = draw(st.sampled_from([value, value.upper(), value.lower(), value.swapcase()]))
        words = recased.split(" ")
        spaced = "".join(
            word + (" " * draw(st.integers(1, 3)) if i < len(words) - 1 else "")
            for i, word in enumerate(words)
        )
        out = []
        for i, char in enumerate(spaced):
            escape = char in _SPECIAL and (char != "#" or i == 0) and char != "="
            if escape or draw(st.integers(0, 9)) == 0:
                hex_pair = f"\\{ord(char):02X}"  # any (ASCII) character may be a hex pair
                forms = [hex_pair, hex_pair.lower()]
                if char in _SPECIAL or char == " ":  # only these may follow a bare backslash
                    forms.append("\\" + char)
                out.append(draw(st.sampled_from(forms)))
            else:
                out.append(char)
        padded = "".join(out)
        if draw(st.booleans()):  # insignificant spaces at either end, escaped as they must be
            padded = "\\ " + padded + "\\ "
        return padded

    def ava_text(ava: x509.NameAttribute[str]) -> str:
        short = next(n for n, oid in _ATTRIBUTES if oid == ava.oid)
        kind = draw(st.sampled_from([short, short.lower(), short.title(), ava.oid.dotted_string]))
        equals = draw(st.sampled_from(["=", " = ", "= "]))
        return f"{kind}{equals}{value_text(ava.value)}"

    rdns = [list(rdn) for rdn in name.rdns]
    rdns.reverse()  # RFC 4514 writes the last RDN first...
    if draw(st.booleans()):
        rdns.reverse()  # ...and SMPs also write X.500's order
    texts = []
    for rdn in rdns:
        avas = draw(st.permutations(rdn))
        texts.append(draw(st.sampled_from(["+", " + "])).join(ava_text(a) for a in avas))
    return draw(st.sampled_from([",", ", ", " , ", ";"])).join(texts)


@given(st.data(), _NAMES)
def test_every_legal_respelling_matches(data: st.DataObject, name: x509.Name) -> None:
    uid = data.draw(_respelled(name))
    assert names_match(name, parse_name(uid)), uid


@given(_NAMES, _NAMES)
def test_names_with_other_values_do_not_match(first: x509.Name, second: x509.Name) -> None:
    def words(name: x509.Name) -> list[list[tuple[str, str]]]:
        return [
            sorted((a.oid.dotted_string, " ".join(str(a.value).lower().split())) for a in rdn)
            for rdn in name.rdns
        ]

    same = words(first) in (words(second), words(second)[::-1])
    assert names_match(first, second) is same


@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused_with_certificate_error(text: str) -> None:
    try:
        name = parse_name(text)
    except CertificateError:
        return
    assert names_match(name, name)


def test_spaces_do_not_push_a_common_name_over_its_bound() -> None:
    # cryptography checks X.520's 64 characters on the value as written; a run of insignificant
    # spaces in a UID must not make a 64-character common name unreadable
    longest = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a" * 31 + " " + "b" * 32)])
    assert names_match(longest, parse_name("CN=" + "a" * 31 + "    " + "b" * 32))
