"""What every billing connector is: its settings and secrets, a connection test, and a fetch.

A connector turns one provider's native format into ledger rows (apps.finops.focus.ledger_row) and keeps
its mapping table in its own module, in plain sight. It never writes to the database: the ingestion service
hands what it fetched to apps.finops.ledger, which swaps it in atomically.

Errors a connector raises, and what Keel does with them:
- CredentialsRejected: stop at once, mark the source, raise an alert (no retry: it will not get better);
- Throttled / ProviderUnavailable (TransientError): retry with backoff, never sooner than retry_after;
- ConnectorError: anything else the provider or its data got wrong, in words a person can act on.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from apps.core.tasks import TransientError


class ConnectorError(Exception):
    """The provider answered, but not with something Keel can book. The message is shown to people."""


class CredentialsRejected(ConnectorError):
    """The provider refused the credentials or the permissions (401/403, AccessDenied, …)."""


class Throttled(TransientError):
    """The provider asked Keel to slow down (HTTP 429, LimitExceededException, quota errors)."""


class ProviderUnavailable(TransientError):
    """A timeout or a 5xx: worth another try later."""


@dataclass(frozen=True)
class FieldSpec:
    """One setting or secret a connector needs; forms and the API are built from these."""

    name: str
    label: str
    help: str = ""
    required: bool = True
    secret: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""


@dataclass(frozen=True)
class Window:
    """UTC days [start, end): what a pull asks the provider for."""

    start: dt.date
    end: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime(self.start.year, self.start.month, self.start.day, tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime(self.end.year, self.end.month, self.end.day, tzinfo=dt.UTC)

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days)]


@dataclass
class FetchResult:
    """What a pull brought back. `rows` may be a generator; it is consumed exactly once, inside the load.

    scope: "window" replaces the source's rows charged inside the window; "billing_periods" replaces the
    (billing account, billing period) pairs present in the rows (exports and files).
    files: for exports, local paths of FOCUS files to load with the file loader instead of rows.
    """

    rows: Iterable[dict] = ()
    scope: str = "window"
    files: list = field(default_factory=list)
    details: dict = field(default_factory=dict)  # pages fetched, estimated days, files read, warnings…
    cleanup: Callable[[], None] | None = None  # e.g. remove downloaded export files once they are booked


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str


class Connector(ABC):
    """Base class. Subclasses set the class attributes and implement test_connection and fetch.

    `client_factory` is the seam tests use: a callable (source) -> provider client (a boto3 client with a
    Stubber, an azure client on a canned transport, a fake BigQuery client, a requests Session with mocks).
    """

    kind: str = ""
    label: str = ""
    settings_fields: tuple[FieldSpec, ...] = ()
    secret_fields: tuple[FieldSpec, ...] = ()
    default_interval_minutes: int = 360
    default_lookback_days: int = 3
    default_backfill_days: int = 90
    # The secret whose last characters identify the credentials on screen (an access key id, not its secret).
    hint_field: str = ""
    # Set on the instance (connector_for(kind).client_factory = …), so it is called without `self`.
    client_factory: Callable | None = None

    def run_window(self, source, window: Window) -> Window:
        """The window a run really reads; a connector may widen the scheduled one (e.g. for late data)."""
        return window

    def credentials_hint(self, secrets: dict) -> str:
        """What identifies the credentials on screen without revealing them: the end of the hint field's value
        (an access key id, an admin key), else of the longest secret."""
        if self.hint_field:
            chosen = secrets.get(self.hint_field) or ""
        else:
            chosen = max((v for v in secrets.values() if isinstance(v, str)), key=len, default="")
        return f"…{chosen[-4:]}" if len(chosen) >= 12 else ("set" if secrets else "")

    def validate_settings(self, settings: dict) -> dict[str, str]:
        """Errors by setting name for values the provider would refuse (formats, ranges); {} when fine."""
        return {}

    @abstractmethod
    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        """Ask the provider, cheaply, whether the credentials and settings work."""

    @abstractmethod
    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        """Read the window from the provider and map it to ledger rows (or FOCUS files to load)."""
