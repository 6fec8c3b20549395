"""``peppolnet demo``: the main job, end to end, on a sandbox network started in-process.

Every step talks to real servers on 127.0.0.1 (DNS, HTTPS SMPs, the Directory, the operator desk)
through the same public API a user calls; nothing is faked. The demo doubles as a smoke test: it
returns a non-zero exit code when a step does not come out as a working network should.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from peppolnet.bulk import BulkResult, Register
    from peppolnet.lookup import Lookup
    from peppolnet.sandbox import Sandbox

__all__ = ["demo_register_path", "run_demo"]


def demo_register_path() -> Path:
    """The sample customer register shipped with peppolnet (a copy of fixtures/customers.csv)."""
    return Path(str(resources.files("peppolnet") / "data" / "demo-customers.csv"))


class _Story:
    """Numbered steps with indented lines: readable in a terminal and in a CI log."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.step = 0

    def heading(self, text: str) -> None:
        self.step += 1
        self.stream.write(f"\n{self.step}. {text}\n")
        self.stream.flush()

    def line(self, text: str = "") -> None:
        self.stream.write(f"   {text}\n" if text else "\n")


def run_demo(
    stream: TextIO,
    *,
    register: Path | None = None,
    key_dir: Path | None = None,
    desk_delay: float = 1.5,
) -> int:
    """Run the demo, writing the story to ``stream``; returns the exit code."""
    from peppolnet.bulk import read_register
    from peppolnet.lookup import Lookup
    from peppolnet.sandbox import Sandbox

    story = _Story(stream)
    register = register or demo_register_path()
    rows = read_register(register)  # a bad register fails before anything is started
    story.heading("Starting a sandbox Peppol network on 127.0.0.1")
    started = time.perf_counter()
    with Sandbox.start(key_dir=key_dir, desk_delay=desk_delay) as sandbox:
        in_sml = sum(1 for p in sandbox.config.participants if p.in_sml)
        story.line(
            f"SML zone {sandbox.config.zone}, DNS on 127.0.0.1:{sandbox.dns.port}, "
            f"{len(sandbox.smps)} SMPs over HTTPS, Directory at {sandbox.directory_url}"
        )
        story.line(
            f"{in_sml} participants in the SML, {len(sandbox.config.operators)} operators; "
            f"started in {time.perf_counter() - started:.2f} s"
        )
        with Lookup(sandbox.network, timeout=3.0) as lookup:
            results = _check_register(story, lookup, register, rows)
            _explain_refusals(story, results)
            missing = _find_missing(story, sandbox, lookup, results)
        confirmed = missing is None or _request_registration(story, sandbox, missing)
    story.heading("Done")
    story.line("every answer above came from real DNS and HTTPS servers on 127.0.0.1")
    ok = any(r.verdict == "can-receive" for r in results) and confirmed
    return 0 if ok else 1


def _check_register(
    story: _Story, lookup: Lookup, register: Path, rows: Register
) -> list[BulkResult]:
    from peppolnet.bulk import Summary, check_many

    story.heading(f"Checking the customer register {register.name}: who can receive invoices?")
    summary = Summary()
    results = list(check_many(rows, lookup, concurrency=8, retries=1))
    summary.extend(results)
    width = max(len(r.row.name) for r in results)
    for result in results:
        operator = f"{result.operator_name} ({result.seat_id})" if result.seat_id else ""
        story.line(f"{result.row.name:<{width}}  {result.outcome:<15} {operator}".rstrip())
    story.line()
    for text in str(summary).splitlines():
        story.line(text)
    return results


def _explain_refusals(story: _Story, results: list[BulkResult]) -> None:
    story.heading("Why the others cannot receive: the check behind each kind of verdict")
    shown: set[str] = set()
    for result in results:
        reach = result.reachability
        if reach is None or result.outcome in shown or result.outcome == "can-receive":
            continue
        shown.add(result.outcome)
        failed = next((c for c in reach.checks if c.status.value == "fail"), None)
        story.line(f"{result.row.name}: {result.outcome}")
        if failed is not None:
            story.line(f"  {failed.name}: {failed.message}")
    invalid = [r for r in results if r.verdict is None]
    if invalid:
        story.line(f"{len(invalid)} rows could not be checked as typed, for example:")
        for result in invalid[:2]:
            story.line(f"  {result.row.name or '(no name)'}: {result.reason}")


def _find_missing(
    story: _Story, sandbox: Sandbox, lookup: Lookup, results: list[BulkResult]
) -> BulkResult | None:
    """Search the Directory for the missing customers; returns the one to request."""
    from peppolnet.directory import DirectoryClient

    story.heading("A customer is missing: search the Peppol Directory by name")
    missing = [r for r in results if r.outcome == "not-registered" and r.row.name]
    if not missing:
        story.line("no customer is missing")
        return None
    with DirectoryClient.for_network(sandbox.network) as directory:
        for result in missing:
            words = result.row.name.split()
            query = " ".join(words[:2]) if len(words) > 1 else words[0]
            page = directory.search(name=query, country=result.row.country or None)
            if not page.matches:
                story.line(f"{query!r}: no business card in the Directory")
                continue
            match = page.matches[0]
            confirmed = lookup.check(match.participant)
            story.line(f"{query!r}: the Directory has {match.name} as {match.participant}")
            story.line(
                f"  but a lookup says {confirmed.verdict.value}: the Directory is a phone book "
                "that can be stale; the SML and the SMP decide"
            )
            return result
    return missing[0]


def _request_registration(story: _Story, sandbox: Sandbox, customer: BulkResult) -> bool:
    """Build, check, send and follow an add-recipient request until the network shows it."""
    import tempfile

    from peppolnet.errors import PeppolnetError
    from peppolnet.lookup import Lookup
    from peppolnet.operators import Operator, OperatorRegistry
    from peppolnet.recipients import AddRecipientRequest, HttpChannel, check_request
    from peppolnet.recipients.tracking import RequestTracker, render_confirmation

    row = customer.row
    registry = OperatorRegistry(
        Operator(op.seat_id, op.name, op.country) for op in sandbox.config.operators
    )
    operator = next(
        (op for op in sandbox.config.operators if op.country == (row.country or "SE")),
        sandbox.config.operators[0],
    )
    story.heading(f"Requesting {row.name}'s registration with {operator.name}")
    try:
        request = AddRecipientRequest.create(
            company_name=row.name,
            organisation_number=row.org_number,
            country=row.country or None,
            operator=operator.name,
            email=row.email or "invoices@example.com",
            requester={"name": "Accounts receivable", "email": "ar@demo.example"},
            registry=registry,
        )
    except PeppolnetError as exc:
        story.line(f"the request is not valid: {exc}")
        return False
    story.line(request.summary())
    with Lookup(sandbox.network, timeout=3.0) as lookup:
        plan = check_request(request, lookup)
    story.line(f"plan: {plan.message}")
    for advice in plan.meanwhile:
        story.line(f"meanwhile: {advice}")
    if plan.request is None:
        return True
    with tempfile.TemporaryDirectory(prefix="peppolnet-demo-") as folder:
        tracker = RequestTracker(Path(folder) / "demo.sqlite")
        try:
            tracker.save(plan.request, plan)
            with HttpChannel(sandbox.desk_url) as channel:
                receipt = tracker.send(plan.request.request_id, channel)
            story.line(f"sent to the operator desk ({receipt.channel}, case {receipt.reference})")
            story.line("following up once the operator desk has acted ...")
            # Wait for the desk's event, not for a guessed time: on a busy machine a fixed
            # polling window ran out before the desk had acted.
            sandbox.desk.wait(receipt.reference)
            outcome = tracker.follow_up(sandbox.network)
            tracked = tracker.get(plan.request.request_id)
        finally:
            tracker.close()
    if tracked is None or tracked.status.value != "confirmed":
        story.line(f"not confirmed: {tracked.status.value if tracked else 'lost'}")
        return False
    story.line(f"confirmed: {outcome[0].message}")
    mail = render_confirmation(plan.request, sender="desk@sandbox.peppolnet.test")
    story.line(f"confirmation mail to {mail['To']}: {mail['Subject']}")
    return True
