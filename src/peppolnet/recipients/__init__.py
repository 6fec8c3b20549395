"""Add/update-recipient requests: build, validate, plan against the network, render and send.

>>> from peppolnet.recipients import AddRecipientRequest
>>> r = AddRecipientRequest.create(company_name="Åkesson Bygg AB",
...     organisation_number="556732-1707", operator="PSE000102", email="faktura@akesson.example")
>>> r.participant_id.bare
'0007:5567321707'

See docs/requests.md.
"""

from __future__ import annotations

from peppolnet.recipients.channels import (
    Channel,
    HttpChannel,
    OutboxChannel,
    Receipt,
    SmtpChannel,
    available_channels,
    make_channel,
    register_channel,
)
from peppolnet.recipients.migration import (
    check_migration_key,
    generate_migration_key,
    is_valid_migration_key,
)
from peppolnet.recipients.plan import (
    NetworkState,
    PlanAction,
    RequestPlan,
    check_request,
    plan_request,
)
from peppolnet.recipients.render import (
    from_json,
    from_xml,
    render_email,
    render_text,
    to_dict,
    to_json,
    to_xml,
)
from peppolnet.recipients.request import (
    DEFAULT_DOCUMENT_TYPES,
    AddRecipientRequest,
    OperatorRef,
    RecipientRequest,
    RequestDefaults,
    Requester,
    RequestKind,
    RequestStatus,
    UpdateRecipientRequest,
    check_email,
    request_from_dict,
)

__all__ = [
    "DEFAULT_DOCUMENT_TYPES",
    "AddRecipientRequest",
    "Channel",
    "HttpChannel",
    "NetworkState",
    "OperatorRef",
    "OutboxChannel",
    "PlanAction",
    "Receipt",
    "RecipientRequest",
    "RequestDefaults",
    "RequestKind",
    "RequestPlan",
    "RequestStatus",
    "Requester",
    "SmtpChannel",
    "UpdateRecipientRequest",
    "available_channels",
    "check_email",
    "check_migration_key",
    "check_request",
    "from_json",
    "from_xml",
    "generate_migration_key",
    "is_valid_migration_key",
    "make_channel",
    "plan_request",
    "register_channel",
    "render_email",
    "render_text",
    "request_from_dict",
    "to_dict",
    "to_json",
    "to_xml",
]

# --- the local recipient directory (SQLite; see docs/customers.md) ------------------------------
from peppolnet.recipients.directory import (
    Change,
    CheckRecord,
    ImportReport,
    Recipient,
    RecipientDirectory,
    RefreshReport,
    SearchHit,
)
from peppolnet.recipients.search import normalise_name
from peppolnet.recipients.store import Store, default_db_path, register_migration

__all__ += [
    "Change",
    "CheckRecord",
    "ImportReport",
    "Recipient",
    "RecipientDirectory",
    "RefreshReport",
    "SearchHit",
    "Store",
    "default_db_path",
    "normalise_name",
    "register_migration",
]

# --- following requests to confirmation (same database file; see docs/requests.md) -------------
from peppolnet.recipients.tracking import (  # noqa: E402 - after the directory exports
    EmailNotifier,
    FollowUpResult,
    Notifier,
    RecordedCheck,
    RequestEvent,
    RequestTracker,
    TrackedRequest,
    render_confirmation,
)

__all__ += [
    "EmailNotifier",
    "FollowUpResult",
    "Notifier",
    "RecordedCheck",
    "RequestEvent",
    "RequestTracker",
    "TrackedRequest",
    "render_confirmation",
]
