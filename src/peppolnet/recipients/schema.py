"""The recipient database's schema: every step, in order, in one place.

Why one list: the database holds customers, their check history and the requests made for them,
and each part used to add its own tables when its module was imported. A program that opened the
file before importing the request tracker saw an old schema, and importing a module changed
global state. Now :class:`~peppolnet.recipients.store.Store` knows every step from the start and
brings any file up to :data:`SCHEMA_VERSION` when it opens it. Append steps; never edit one that
has shipped (a file may be anywhere between any two of them).
"""

from __future__ import annotations

from typing import Final

__all__ = ["SCHEMA_VERSION", "STEPS"]

_SCHEMA_V1: Final = """
CREATE TABLE recipients (
    id              INTEGER PRIMARY KEY,
    participant_id  TEXT NOT NULL UNIQUE COLLATE NOCASE,  -- the key, as a full URI
    org_number      TEXT NOT NULL DEFAULT '',   -- as the register gave it
    org_key         TEXT NOT NULL DEFAULT '',   -- letters and digits only, upper case
    country         TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL DEFAULT '',
    name_key        TEXT NOT NULL DEFAULT '',   -- search.normalise_name(name)
    email           TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    checked_at      TEXT,
    verdict         TEXT,
    seat_id         TEXT,
    operator_name   TEXT,
    smp_url         TEXT,
    reason          TEXT
);
CREATE INDEX recipients_org ON recipients(country, org_key);
CREATE INDEX recipients_checked ON recipients(checked_at);
-- every participant id a lookup of the recipient would try (NO: 0192 and 9909, ...)
CREATE TABLE recipient_ids (
    participant_id  TEXT PRIMARY KEY COLLATE NOCASE,
    recipient_id    INTEGER NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL DEFAULT 0      -- the order a lookup tries them in
);
CREATE INDEX recipient_ids_recipient ON recipient_ids(recipient_id);
CREATE TABLE checks (
    id              INTEGER PRIMARY KEY,
    recipient_id    INTEGER NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    checked_at      TEXT NOT NULL,
    verdict         TEXT NOT NULL,
    participant_id  TEXT NOT NULL DEFAULT '',
    seat_id         TEXT NOT NULL DEFAULT '',
    operator_name   TEXT NOT NULL DEFAULT '',
    smp_url         TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX checks_recipient ON checks(recipient_id, id);
"""

_SCHEMA_V2: Final = """
CREATE TABLE requests (
    request_id      TEXT PRIMARY KEY,           -- the request's stable UUID5
    kind            TEXT NOT NULL,              -- add | update
    participant_id  TEXT NOT NULL COLLATE NOCASE,
    seat_id         TEXT NOT NULL,              -- the requested operator
    company_name    TEXT NOT NULL,
    status          TEXT NOT NULL,              -- draft | sent | confirmed | rejected | expired
    body            TEXT NOT NULL,              -- the request as JSON (render.to_json)
    plan            TEXT,                       -- RequestPlan.to_json() as JSON, if planned
    channel         TEXT,                       -- how it was sent
    reference       TEXT,                       -- the channel's reference (case id, file, ...)
    channel_detail  TEXT,                       -- JSON: e.g. the desk URL, for follow-up
    reason          TEXT,                       -- why it was rejected / expired
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    sent_at         TEXT,
    closed_at       TEXT,                       -- confirmed / rejected / expired at
    notified_at     TEXT                        -- confirmation mail sent at
);
CREATE INDEX requests_status ON requests(status);
CREATE INDEX requests_participant ON requests(participant_id);
CREATE TABLE request_events (
    id              INTEGER PRIMARY KEY,
    request_id      TEXT NOT NULL REFERENCES requests(request_id) ON DELETE CASCADE,
    at              TEXT NOT NULL,
    event           TEXT NOT NULL,              -- saved, updated, reopened, sent, checked, ...
    status          TEXT NOT NULL,              -- the status after the event
    detail          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX request_events_request ON request_events(request_id, id);
"""

# Each submission is its own case: the idempotency key of its send (kept from the first attempt
# until one succeeds, so a retry is the same send to the operator), and what the latest
# follow-up saw (so a confirmation mail sent by a later run can still list it).
_SCHEMA_V3: Final = """
ALTER TABLE requests ADD COLUMN idempotency_key TEXT;
ALTER TABLE requests ADD COLUMN checks TEXT;
ALTER TABLE requests ADD COLUMN checked_at TEXT;
UPDATE requests SET idempotency_key = request_id WHERE sent_at IS NOT NULL;
CREATE INDEX requests_question ON requests(participant_id, kind, seat_id, status);
"""

# A send under way: who claimed the request (status 'sending'), when, and until when the claim
# holds; a process killed mid-send leaves its claim, which the next send may take once expired.
_SCHEMA_V4: Final = """
ALTER TABLE requests ADD COLUMN claimed_by TEXT;
ALTER TABLE requests ADD COLUMN claimed_at TEXT;
ALTER TABLE requests ADD COLUMN claim_expires_at TEXT;
"""

STEPS: Final[tuple[tuple[int, str], ...]] = (
    (1, _SCHEMA_V1),
    (2, _SCHEMA_V2),
    (3, _SCHEMA_V3),
    (4, _SCHEMA_V4),
)
"""``(user_version after the step, SQL script)``, ascending."""

SCHEMA_VERSION: Final = STEPS[-1][0]
