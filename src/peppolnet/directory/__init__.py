"""The Peppol Directory: search (sync and async clients) and the values it returns.

The Directory finds participants by name, country, identifier or document type. It is opt-in
and may be stale, so it is *not* authoritative for reachability (Peppol Directory REST API
documentation): pass a ``confirm``
lookup to the search methods and each match records whether SML + SMP agreed.
"""

from __future__ import annotations

from peppolnet.directory.client import (
    PRODUCTION_URL,
    TEST_URL,
    AsyncDirectoryClient,
    AsyncSearchResult,
    DirectoryClient,
    SearchResult,
)
from peppolnet.directory.model import MAX_RESULTS, DirectoryMatch, SearchPage
from peppolnet.directory.parse import (
    parse_search_json,
    parse_search_response,
    parse_search_xml,
    render_search_json,
    render_search_xml,
)
from peppolnet.directory.query import SearchFields, SearchQuery

__all__ = [
    "MAX_RESULTS",
    "PRODUCTION_URL",
    "TEST_URL",
    "AsyncDirectoryClient",
    "AsyncSearchResult",
    "DirectoryClient",
    "DirectoryMatch",
    "SearchFields",
    "SearchPage",
    "SearchQuery",
    "SearchResult",
    "parse_search_json",
    "parse_search_response",
    "parse_search_xml",
    "render_search_json",
    "render_search_xml",
]
