"""The running sandbox: DNS (SML), one HTTPS server per SMP, the Directory, and their state.

``with Sandbox.start() as net:`` builds everything from a :class:`SandboxConfig` on 127.0.0.1
and tears it down again. Keys come from the per-user test PKI cache, so only the very first start
on a machine pays for RSA key generation; after that a start issues (cheap) certificates for the
existing keys. One SMP signing key and one AP key per operator, never per participant.

The ``register_participant`` / ``move_participant`` / ``remove_participant`` methods are what the
operator desk calls; they are thread-safe while the servers run.

A plain-http CRL server (:mod:`peppolnet.sandbox.crl_service`) starts before any certificate is
issued, so every SMP and AP certificate names its CA's CRL at the real port; :meth:`Sandbox.revoke`
revokes one at run time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509

from peppolnet.businesscard import BusinessEntity, Contact, Name
from peppolnet.clock import Clock, as_clock
from peppolnet.errors import SandboxError
from peppolnet.i18n import _
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.config import ParticipantConfig, SandboxConfig, load_config
from peppolnet.sandbox.crl_service import CrlService
from peppolnet.sandbox.directory_service import DirectoryEntry, DirectoryService
from peppolnet.sandbox.dns_server import DnsServer
from peppolnet.sandbox.export_service import ExportService
from peppolnet.sandbox.http import Faults, HttpServer
from peppolnet.sandbox.pki import IssuedCertificate, TestPki
from peppolnet.sandbox.render import business_card
from peppolnet.sandbox.smp_server import Publication, SmpService, certificate_der

if TYPE_CHECKING:
    from peppolnet.network import Network

__all__ = ["Sandbox", "default_key_dir"]

HTTP_SMP_ID = "http-smp"


def default_key_dir() -> Path:
    """The per-user cache of sandbox keys ($XDG_CACHE_HOME/peppolnet/sandbox-pki)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "peppolnet" / "sandbox-pki"


class Sandbox:
    """A running sandbox network. Create it with :meth:`start`."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        extra_zones: Sequence[str] = (),
        key_dir: Path | None = None,
        faults: Faults | None = None,
        dns_port: int = 0,
        desk_delay: float = 2.0,
        clock: Clock | None = None,
    ) -> None:
        from peppolnet.sandbox.desk import OperatorDesk  # desk -> recipients: import late

        self.config = config
        #: The sandbox's "now": certificates, CRLs and signed documents are dated by it, so a
        #: sandbox on a :class:`~peppolnet.clock.ManualClock` a year ahead is valid a year ahead.
        self.clock: Clock = as_clock(clock)
        self.pki = TestPki.load_or_create(key_dir or default_key_dir(), clock=self.clock)
        self._extra_zones = tuple(extra_zones)
        self._faults = faults
        self._lock = threading.RLock()
        self._tmp = Path(tempfile.mkdtemp(prefix="peppolnet-sandbox-"))
        self._now = self.clock.now()
        self.participants: dict[ParticipantId, ParticipantConfig] = {}
        self.services: dict[str, SmpService] = {}
        self.smps: dict[str, HttpServer] = {}
        self._smp_signers: dict[str, IssuedCertificate] = {}
        self._ap_certs: dict[str, bytes] = {}
        self._expired: dict[str, IssuedCertificate] = {}
        # dns_port 0 = any free port; a fixed one is handy for `dig -p` in a demo.
        self.dns = DnsServer([config.zone, *self._extra_zones], port=dns_port, clock=self.clock)
        # The CAs' CRLs (see revoke()); served before any certificate is issued (run()).
        self.crls = CrlService(self.pki, clock=self.clock.now)
        self.crl_server: HttpServer | None = None
        self.directory = DirectoryService()
        self.directory_server: HttpServer | None = None
        # The daily export (/export/...), redirected to a static server of its own, as in
        # production; counted by the sandbox's clock (3 downloads per file and day).
        self.exports = ExportService(self.directory, clock=self.clock)
        self.directory.exports = self.exports
        self.export_server: HttpServer | None = None
        # The operator desk: add/update-recipient requests over HTTP (see sandbox/desk.py).
        self.desk = OperatorDesk(self, delay=desk_delay)
        self.desk_server: HttpServer | None = None
        self._running = False

    # --- lifecycle -----------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def start(
        cls,
        config: SandboxConfig | Path | str | None = None,
        *,
        extra_zones: Sequence[str] = (),
        key_dir: Path | None = None,
        faults: Faults | None = None,
        dns_port: int = 0,
        desk_delay: float = 2.0,
        clock: Clock | None = None,
    ) -> Iterator[Sandbox]:
        """Start a sandbox (default network if ``config`` is None) and stop it on exit."""
        if not isinstance(config, SandboxConfig):
            config = load_config(config)
        sandbox = cls(
            config,
            extra_zones=extra_zones,
            key_dir=key_dir,
            faults=faults,
            dns_port=dns_port,
            desk_delay=desk_delay,
            clock=clock,
        )
        try:
            sandbox.run()
            yield sandbox
        finally:
            sandbox.stop()

    def run(self) -> Sandbox:
        """Start every server and publish every participant (what :meth:`start` does)."""
        tls = self.pki.issue_tls_certificate(("127.0.0.1", "localhost"))
        cert_path, key_path = self._tmp / "tls.pem", self._tmp / "tls.key"
        cert_path.write_bytes(tls.certificate_pem())
        key_path.write_bytes(tls.private_key_pem())
        key_path.chmod(0o600)
        # First the CRL server: its URL (with the port just chosen) goes into every leaf.
        self.crl_server = HttpServer(self.crls.handle, name="crl", clock=self.clock).start()
        self.pki.crl_base_url = self.crl_server.base_url
        for op in self.config.operators:
            self._smp_signers[op.id] = self.pki.issue_smp_certificate(
                op.seat_id, op.name, op.country
            )
            self._ap_certs[op.id] = certificate_der(
                self.pki.issue_ap_certificate(op.seat_id, op.name, op.country)
            )
        smp_list = [(s.id, s.dialect, s.path, s.faults, True) for s in self.config.smps]
        if any("http-smp" in p.quirks for p in self.config.participants):
            smp_list.append((HTTP_SMP_ID, "peppol-smp-1", "", Faults(), False))
        for smp_id, dialect, path, smp_faults, https in smp_list:
            service = SmpService(smp_id, dialect, path, clock=lambda: self._now)
            server = HttpServer(
                service.handle,
                tls=(cert_path, key_path) if https else None,
                faults=self._faults or smp_faults,
                name=smp_id,
                clock=self.clock,
            ).start()
            service.origin = server.base_url
            self.services[smp_id] = service
            self.smps[smp_id] = server
        self.directory_server = HttpServer(
            self.directory.handle,
            tls=(cert_path, key_path),
            faults=self.config.directory_faults,
            name="directory",
            clock=self.clock,
        ).start()
        self.export_server = HttpServer(
            self.exports.serve_file,
            tls=(cert_path, key_path),
            name="directory-static",
            clock=self.clock,
        ).start()
        self.exports.static_base = self.export_server.base_url
        self.desk_server = HttpServer(self.desk.handle, name="desk", clock=self.clock).start()
        dns_faults = self.config.dns_faults
        self.dns.set_latency(dns_faults.latency, dns_faults.jitter)
        self.dns.set_timeout_share(dns_faults.timeout_share)
        self.dns.set_lie(dns_faults.lie)
        self.dns.set_dnssec(dns_faults.dnssec)
        self.dns.start()
        self._running = True
        for participant in self.config.participants:
            self.register_participant(participant)
        return self

    def stop(self) -> None:
        """Stop every server; safe to call twice.

        Each HTTP server's ``shutdown()`` waits for its serve loop to notice (up to one poll
        interval), so stopping a dozen servers one after the other costs a dozen intervals. They
        are stopped in parallel threads instead: the whole stop then costs about one interval.
        """
        self._running = False
        self.desk.close()  # pending desk work must not touch servers that are going away
        servers = [*self.smps.values()]
        if self.directory_server is not None:
            servers.append(self.directory_server)
        if self.export_server is not None:
            servers.append(self.export_server)
        if self.desk_server is not None:
            servers.append(self.desk_server)
        if self.crl_server is not None:
            servers.append(self.crl_server)
        threads = [
            threading.Thread(target=server.stop, name=f"stop-{server.name}", daemon=True)
            for server in servers
        ]
        for thread in threads:
            thread.start()
        self.dns.stop()
        for thread in threads:
            thread.join(5.0)
        shutil.rmtree(self._tmp, ignore_errors=True)

    # --- addresses -----------------------------------------------------------------------------

    @property
    def directory_url(self) -> str:
        if self.directory_server is None:
            raise SandboxError(_("the sandbox is not running"))
        return self.directory_server.base_url

    @property
    def desk_url(self) -> str:
        """The operator desk (plain HTTP): ``POST {desk_url}/requests`` (HttpChannel speaks it)."""
        if self.desk_server is None:
            raise SandboxError(_("the sandbox is not running"))
        return self.desk_server.base_url

    @property
    def tls_ca_path(self) -> Path:
        """The trust anchor for the sandbox's HTTPS servers (``curl --cacert``, httpx verify)."""
        return self.pki.tls_ca_pem_path

    def smp_url(self, smp_id: str) -> str:
        return self.services[smp_id].base_url

    def crl_url(self, kind: str) -> str:
        """Where the ``smp`` or ``ap`` CA's CRL is served (named in every leaf it issued)."""
        url = self.pki.crl_url(kind)
        if url is None or self.crl_server is None:
            raise SandboxError(_("the sandbox is not running"))
        return url

    @property
    def network(self) -> Network:
        """The sandbox as a :class:`peppolnet.network.Network` value for every lookup."""
        from peppolnet.destinations import LOOPBACK_ALLOWED
        from peppolnet.network import Network
        from peppolnet.xmldsig import SignaturePolicy

        return Network(
            name=self.config.name,
            sml_zone=self.config.zone,
            smp_ca=(self.pki.smp_ca,),
            ap_ca=(self.pki.ap_ca,),
            directory_url=self.directory_url,
            require_https=True,
            signature_policy=SignaturePolicy.strict(),
            nameservers=(self.dns.host,),
            dns_port=self.dns.port,
            tls_verify=str(self.tls_ca_path),
            legacy_cname=False,
            # every sandbox server listens on 127.0.0.1; nothing else is allowed
            destinations=LOOPBACK_ALLOWED,
            # its zones are signed with its own keys; their parents' keys are the anchors
            dnssec_anchors=self.dns.trust_anchors,
        )

    def info(self) -> dict[str, Any]:
        """What ``peppolnet sandbox serve`` prints and writes to the state file."""
        return {
            "name": self.config.name,
            "zone": self.config.zone,
            "zones": [self.config.zone, *self._extra_zones],
            "dns": {"host": self.dns.host, "port": self.dns.port},
            "dnssec_anchors": list(self.dns.trust_anchors),
            "smps": {smp_id: service.base_url for smp_id, service in self.services.items()},
            "directory_url": self.directory_url,
            "desk_url": self.desk_url,
            "operators": [
                {"id": op.id, "name": op.name, "seat_id": op.seat_id, "country": op.country}
                for op in self.config.operators
            ],
            "trust_anchor": str(self.tls_ca_path),
            "smp_ca": str(self.pki.directory / "smp-ca.pem"),
            "ap_ca": str(self.pki.directory / "ap-ca.pem"),
            "participants": len(self.participants),
            "pid": os.getpid(),
        }

    # --- the operator desk's API ---------------------------------------------------------------

    def register_participant(self, participant: ParticipantConfig) -> None:
        """Publish (or re-publish) a participant: SML record, SMP documents, Directory card."""
        with self._lock:
            self.config.operator(participant.operator)  # raises for an unknown operator
            self._withdraw(participant.id)
            self.participants[participant.id] = participant
            if participant.business_card is not None:
                self.directory.add(self._entry(participant))
            if not participant.in_sml:
                return
            op = self.config.operator(participant.operator)
            quirks = participant.quirks
            smp_id = HTTP_SMP_ID if "http-smp" in quirks else op.smp
            service = self.services[smp_id]
            publication = self._publication(participant, quirks)
            if "redirect" in quirks:
                target_id = self._other_smp(op.smp)
                target = self.services[target_id]
                signer = self._smp_signers[self.config.smp(target_id).operator]
                # The target SMP signs its own copy with its own key: that is the certificate
                # the redirect names, and what a client checks the target's answer against.
                target.publish(dataclasses.replace(publication, quirks=frozenset(), signer=signer))
                publication = dataclasses.replace(
                    publication,
                    redirect=(
                        target.base_url,
                        signer.certificate.subject.rfc4514_string(),
                        certificate_der(signer),
                    ),
                )
            service.publish(publication)
            if "dns-servfail" in quirks:
                self.dns.set_fault(participant.id, "servfail")
            self.dns.add_participant(
                participant.id,
                service.base_url,
                legacy_cname="legacy-cname" in quirks,
                service="Meta:LOCATOR" if "no-meta-smp" in quirks else "Meta:SMP",
            )

    def move_participant(self, participant: ParticipantId | str, operator: str) -> None:
        """Move a participant to another operator (and so to that operator's SMP)."""
        pid = _pid(participant)
        with self._lock:
            current = self.participants.get(pid)
            if current is None:
                raise SandboxError(_("{value} is not in the sandbox", value=pid.value))
            self.register_participant(dataclasses.replace(current, operator=operator))

    def remove_participant(self, participant: ParticipantId | str) -> bool:
        """Withdraw a participant from the SML, its SMP and the Directory."""
        pid = _pid(participant)
        with self._lock:
            found = self.participants.pop(pid, None) is not None
            self._withdraw(pid)
            return found

    # --- revocation ----------------------------------------------------------------------------

    def revoke(
        self,
        target: str | x509.Certificate | IssuedCertificate,
        kind: str | None = None,
        *,
        when: dt.datetime | None = None,
        reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise,
    ) -> x509.Certificate:
        """Revoke a certificate now (or at ``when``): its CA's CRL lists it from then on.

        ``target`` is an operator (its id or Seat ID) with ``kind`` ``"ap"`` (default: its access
        point certificate) or ``"smp"`` (its SMP signing certificate), or a certificate itself
        (its kind is read from its issuer). Returns the revoked certificate. Lookups with a
        revocation checker see it once the checker fetches the CRL again (a fresh checker at
        once); lookups without one are not affected.
        """
        if not self._running:
            raise SandboxError(_("the sandbox is not running; start it before revoking"))
        with self._lock:
            certificate = self._certificate_to_revoke(target, kind)
            issuer = certificate.issuer
            found = "smp" if issuer == self.pki.smp_ca.subject else "ap"
            if issuer not in (self.pki.smp_ca.subject, self.pki.ap_ca.subject):
                raise SandboxError(
                    _(
                        "{subject} was not issued by a sandbox SMP or AP CA, so no "
                        "sandbox CRL can revoke it",
                        subject=certificate.subject.rfc4514_string(),
                    )
                )
            if kind is not None and kind != found:
                raise SandboxError(
                    _(
                        "that is an {found} certificate, not {kind}",
                        found=repr(found),
                        kind=repr(kind),
                    )
                )
            self.crls.revoke(found, certificate.serial_number, when=when, reason=reason)
            return certificate

    def _certificate_to_revoke(
        self, target: str | x509.Certificate | IssuedCertificate, kind: str | None
    ) -> x509.Certificate:
        if isinstance(target, IssuedCertificate):
            return target.certificate
        if isinstance(target, x509.Certificate):
            return target
        kind = kind or "ap"
        if kind not in ("ap", "smp"):
            raise SandboxError(_("kind must be 'ap' or 'smp', not {kind}", kind=repr(kind)))
        wanted = target.strip()
        op = next(
            (o for o in self.config.operators if wanted in (o.id, o.seat_id)),
            None,
        )
        if op is None:
            raise SandboxError(
                _("no sandbox operator has the id or Seat ID {wanted}", wanted=repr(wanted))
            )
        if kind == "smp":
            return self._smp_signers[op.id].certificate
        return x509.load_der_x509_certificate(self._ap_certs[op.id])

    # --- helpers -------------------------------------------------------------------------------

    def _withdraw(self, pid: ParticipantId) -> None:
        for service in self.services.values():
            service.withdraw(pid)
        self.dns.remove_participant(pid)
        self.dns.set_fault(pid, None)
        self.directory.remove(pid)

    def _other_smp(self, smp_id: str) -> str:
        ids = [s.id for s in self.config.smps]
        return ids[(ids.index(smp_id) + 1) % len(ids)]

    def _expired_cert(self, kind: str, op_id: str) -> IssuedCertificate:
        key = f"{kind}:{op_id}"
        if key not in self._expired:
            op = self.config.operator(op_id)
            issue = (
                self.pki.issue_smp_certificate if kind == "smp" else self.pki.issue_ap_certificate
            )
            self._expired[key] = issue(
                op.seat_id,
                op.name,
                op.country,
                not_before=self._now - dt.timedelta(days=800),
                not_after=self._now - dt.timedelta(days=30),
            )
        return self._expired[key]

    def _publication(self, p: ParticipantConfig, quirks: frozenset[str]) -> Publication:
        op = self.config.operator(p.operator)
        ap_url = op.ap_url
        if "http-endpoint" in quirks:
            ap_url = "http://" + ap_url.removeprefix("https://")
        ap_cert = self._ap_certs[op.id]
        if "expired-ap-certificate" in quirks:
            ap_cert = certificate_der(self._expired_cert("ap", op.id))
        smp_owner = self.config.smp(op.smp).operator
        signer = self._smp_signers[smp_owner]
        if "expired-smp-certificate" in quirks:
            signer = self._expired_cert("smp", smp_owner)
        card = None
        if p.business_card is not None:
            card = business_card(p.id, p.name, p.country, p.business_card)
        return Publication(
            participant=p,
            ap_url=ap_url,
            ap_certificate=ap_cert,
            signer=signer,
            transport_profile=str(self.config.transport_profile),
            card=card,
            quirks=quirks,
        )

    @staticmethod
    def _entry(p: ParticipantConfig) -> DirectoryEntry:
        card = p.business_card
        assert card is not None
        entity = BusinessEntity(
            names=(Name(p.name),),
            country=p.country,
            geo_info=card.geographical_info or None,
            identifiers=card.identifiers,
            websites=card.websites,
            contacts=tuple(
                Contact(c.type or None, c.name or None, c.phone or None, c.email or None)
                for c in card.contacts
            ),
            additional_info=card.additional_info or None,
            registration_date=card.registration_date,
        )
        return DirectoryEntry(p.id, p.document_types, (entity,))


def _pid(participant: ParticipantId | str) -> ParticipantId:
    if isinstance(participant, ParticipantId):
        return participant
    text = participant if "::" in participant else f"iso6523-actorid-upis::{participant}"
    return ParticipantId.parse(text)
