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

from peppolnet.i18n import DEFAULT_LANGUAGE, _, parse_language, render

if TYPE_CHECKING:
    from peppolnet.bulk import BulkResult, Register
    from peppolnet.lookup import Lookup
    from peppolnet.sandbox import Sandbox

__all__ = ["demo_register_path", "run_demo"]


def demo_register_path() -> Path:
    """The sample customer register shipped with peppolnet (a copy of fixtures/customers.csv)."""
    return Path(str(resources.files("peppolnet") / "data" / "demo-customers.csv"))


class _Story:
    """Numbered steps with indented lines: readable in a terminal and in a CI log, in the
    reader's language (every message is rendered in it as it is written)."""

    def __init__(self, stream: TextIO, language: str) -> None:
        self.stream = stream
        self.language = language
        self.step = 0

    def heading(self, text: object) -> None:
        self.step += 1
        self.stream.write(f"\n{self.step}. {self.say(text)}\n")
        self.stream.flush()

    def line(self, text: object = "") -> None:
        shown = self.say(text)
        self.stream.write(f"   {shown}\n" if shown else "\n")

    def say(self, text: object) -> str:
        return render(text, self.language)

    def verdict(self, value: str) -> str:
        """A verdict value (``can-receive``, ``invalid-input``) as the reader calls it."""
        from peppolnet.bulk.summary import verdict_text

        return verdict_text(value, self.language)


def run_demo(
    stream: TextIO,
    *,
    register: Path | None = None,
    key_dir: Path | None = None,
    desk_delay: float = 1.5,
    language: str = DEFAULT_LANGUAGE,
) -> int:
    """Run the demo, writing the story to ``stream`` in ``language`` (``"sv"`` or ``"en"``);
    returns the exit code."""
    from peppolnet.bulk import read_register
    from peppolnet.lookup import Lookup
    from peppolnet.sandbox import Sandbox

    story = _Story(stream, parse_language(language))
    register = register or demo_register_path()
    rows = read_register(register)  # a bad register fails before anything is started
    story.heading(_("Starting a sandbox Peppol network on 127.0.0.1"))
    started = time.perf_counter()
    with Sandbox.start(key_dir=key_dir, desk_delay=desk_delay) as sandbox:
        elapsed = round(time.perf_counter() - started, 2)  # a number: its decimal mark per language
        story.line(
            _(
                "SML zone {zone}, DNS on 127.0.0.1:{port}, {smps} SMPs over HTTPS, "
                "Directory at {directory}",
                zone=sandbox.config.zone,
                port=sandbox.dns.port,
                smps=len(sandbox.smps),
                directory=sandbox.directory_url,
            )
        )
        story.line(
            _(
                "{participants} participants in the SML, {operators} operators; "
                "started in {seconds} s",
                participants=sum(1 for p in sandbox.config.participants if p.in_sml),
                operators=len(sandbox.config.operators),
                seconds=elapsed,
            )
        )
        with Lookup(sandbox.network, timeout=3.0) as lookup:
            results = _check_register(story, lookup, register, rows)
            _explain_refusals(story, results)
            missing = _find_missing(story, sandbox, lookup, results)
        confirmed = missing is None or _request_registration(story, sandbox, missing)
    story.heading(_("Done"))
    story.line(_("every answer above came from real DNS and HTTPS servers on 127.0.0.1"))
    ok = any(r.verdict == "can-receive" for r in results) and confirmed
    return 0 if ok else 1


def _check_register(
    story: _Story, lookup: Lookup, register: Path, rows: Register
) -> list[BulkResult]:
    from peppolnet.bulk import Summary, check_many

    story.heading(
        _(
            "Checking the customer register {name}: who can receive invoices?",
            name=register.name,
        )
    )
    summary = Summary()
    results = list(check_many(rows, lookup, concurrency=8, retries=1))
    summary.extend(results)
    width = max(len(r.row.name) for r in results)
    outcomes = [story.verdict(r.outcome) for r in results]
    shown = max(15, *(len(o) for o in outcomes))
    for result, outcome in zip(results, outcomes, strict=True):
        operator = f"{result.operator_name} ({result.seat_id})" if result.seat_id else ""
        story.line(f"{result.row.name:<{width}}  {outcome:<{shown}} {operator}".rstrip())
    story.line()
    for text in summary.lines(story.language):
        story.line(text)
    return results


def _explain_refusals(story: _Story, results: list[BulkResult]) -> None:
    story.heading(_("Why the others cannot receive: the check behind each kind of verdict"))
    shown: set[str] = set()
    for result in results:
        reach = result.reachability
        if reach is None or result.outcome in shown or result.outcome == "can-receive":
            continue
        shown.add(result.outcome)
        failed = next((c for c in reach.checks if c.status.value == "fail"), None)
        story.line(f"{result.row.name}: {story.verdict(result.outcome)}")
        if failed is not None:
            story.line(f"  {failed.name}: {failed.text(story.language)}")
    invalid = [r for r in results if r.verdict is None]
    if invalid:
        story.line(
            _("{count} rows could not be checked as typed, for example:", count=len(invalid))
        )
        for result in invalid[:2]:
            name = result.row.name or story.say(_("(no name)"))
            story.line(f"  {name}: {story.say(result.reason)}")


def _find_missing(
    story: _Story, sandbox: Sandbox, lookup: Lookup, results: list[BulkResult]
) -> BulkResult | None:
    """Search the Directory for the missing customers; returns the one to request."""
    from peppolnet.directory import DirectoryClient

    story.heading(_("A customer is missing: search the Peppol Directory by name"))
    missing = [r for r in results if r.outcome == "not-registered" and r.row.name]
    if not missing:
        story.line(_("no customer is missing"))
        return None
    with DirectoryClient.for_network(sandbox.network) as directory:
        for result in missing:
            words = result.row.name.split()
            query = " ".join(words[:2]) if len(words) > 1 else words[0]
            page = directory.search(name=query, country=result.row.country or None)
            if not page.matches:
                story.line(_("{query!r}: no business card in the Directory", query=query))
                continue
            match = page.matches[0]
            confirmed = lookup.check(match.participant)
            story.line(
                _(
                    "{query!r}: the Directory has {name} as {participant}",
                    query=query,
                    name=match.name,
                    participant=str(match.participant),
                )
            )
            said = _(
                "but a lookup says {verdict}: the Directory is a phone book that can be stale; "
                "the SML and the SMP decide",
                verdict=story.verdict(confirmed.verdict.value),
            )
            story.line(f"  {story.say(said)}")
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
    story.heading(
        _("Requesting {company}'s registration with {operator}", company=row.name,
          operator=operator.name)
    )  # fmt: skip
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
        story.line(_("the request is not valid: {problem}", problem=exc))
        return False
    story.line(request.summary())
    with Lookup(sandbox.network, timeout=3.0) as lookup:
        plan = check_request(request, lookup)
    story.line(_("plan: {message}", message=plan.message))
    for advice in plan.meanwhile:
        story.line(_("meanwhile: {advice}", advice=advice))
    if plan.request is None:
        return True
    with tempfile.TemporaryDirectory(prefix="peppolnet-demo-") as folder:
        tracker = RequestTracker(Path(folder) / "demo.sqlite")
        try:
            tracker.save(plan.request, plan)
            with HttpChannel(sandbox.desk_url) as channel:
                receipt = tracker.send(plan.request.request_id, channel)
            story.line(
                _(
                    "sent to the operator desk ({channel}, case {reference})",
                    channel=receipt.channel,
                    reference=receipt.reference,
                )
            )
            story.line(_("following up once the operator desk has acted ..."))
            # Wait for the desk's event, not for a guessed time: on a busy machine a fixed
            # polling window ran out before the desk had acted.
            sandbox.desk.wait(receipt.reference)
            outcome = tracker.follow_up(sandbox.network)
            tracked = tracker.get(plan.request.request_id)
        finally:
            tracker.close()
    if tracked is None or tracked.status.value != "confirmed":
        status = tracked.status.value if tracked else "lost"
        story.line(_("not confirmed: {status}", status=status))
        return False
    story.line(_("confirmed: {message}", message=outcome[0].message))
    mail = render_confirmation(
        plan.request, sender="desk@sandbox.peppolnet.test", language=story.language
    )
    story.line(_("confirmation mail to {to}: {subject}", to=mail["To"], subject=mail["Subject"]))
    return True
