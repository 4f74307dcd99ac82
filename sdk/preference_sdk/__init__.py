"""Python SDK for the widget-server preference center.

Mint signed links and ``List-Unsubscribe`` headers offline (:class:`LinkMinter`), call
the JSON API (:class:`Client`, :class:`AsyncClient`), verify webhook deliveries
(:func:`verify_webhook`), decide before a send (:func:`can_contact`), keep a CRM in sync
from the change feed (:func:`sync` and the sinks in :mod:`preference_sdk.sinks`), and
import legacy preferences (``preference-sdk import``). See docs/API.md and docs/SYNC.md.

Every error the SDK raises is a :class:`PreferenceSDKError`; the whole tree is drawn in
``preference_sdk._exceptions``. The package ships ``py.typed``: type checkers read its
annotations.
"""

from ._client import NOT_GIVEN, AsyncClient, Client, NotGiven
from ._decision import can_contact
from ._exceptions import (
    APIError,
    AuthenticationError,
    Conflict,
    NotFound,
    PermissionDenied,
    PreferenceSDKError,
    RateLimited,
    ServerError,
    StaleVersion,
    TransportError,
    ValidationError,
    VersionRequired,
)
from ._import import ImportMappingError, import_file, load_mapping, read_records
from ._links import AGENT_ID_MAX, AGENT_PERMISSIONS, LinkMinter
from ._models import (
    CenterInfo,
    ChainBreak,
    ChainVerification,
    Change,
    ChannelRuleInfo,
    Decision,
    Delivery,
    Event,
    FeedPage,
    ImportReport,
    LegalBasis,
    Link,
    Preferences,
    RegionInfo,
    SignedReceipt,
    TopicInfo,
    WebhookEndpoint,
)
from ._receipts import ReceiptVerificationError, verify_receipt
from ._sync import (
    AsyncFeedSource,
    CursorStore,
    FeedSource,
    FileCursorStore,
    MemoryCursorStore,
    Sink,
    SinkError,
    SyncReport,
    async_sync,
    sync,
)
from ._tokens import (
    DEFAULT_LIFETIMES,
    SCOPES,
    TokenClaims,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenSigner,
)
from ._webhooks import WebhookVerificationError, new_webhook_secret, sign_webhook, verify_webhook, webhook_headers

__all__ = [
    "AGENT_ID_MAX",
    "AGENT_PERMISSIONS",
    "APIError",
    "AsyncClient",
    "AsyncFeedSource",
    "AuthenticationError",
    "CenterInfo",
    "ChainBreak",
    "ChainVerification",
    "Change",
    "ChannelRuleInfo",
    "Client",
    "Conflict",
    "CursorStore",
    "DEFAULT_LIFETIMES",
    "Decision",
    "Delivery",
    "Event",
    "FeedPage",
    "FeedSource",
    "FileCursorStore",
    "ImportMappingError",
    "ImportReport",
    "LegalBasis",
    "Link",
    "LinkMinter",
    "MemoryCursorStore",
    "NOT_GIVEN",
    "NotFound",
    "NotGiven",
    "PermissionDenied",
    "PreferenceSDKError",
    "Preferences",
    "RateLimited",
    "ReceiptVerificationError",
    "RegionInfo",
    "SCOPES",
    "ServerError",
    "SignedReceipt",
    "Sink",
    "SinkError",
    "StaleVersion",
    "SyncReport",
    "TokenClaims",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenSigner",
    "TopicInfo",
    "TransportError",
    "ValidationError",
    "VersionRequired",
    "WebhookEndpoint",
    "WebhookVerificationError",
    "async_sync",
    "can_contact",
    "import_file",
    "load_mapping",
    "new_webhook_secret",
    "read_records",
    "sign_webhook",
    "sync",
    "verify_receipt",
    "verify_webhook",
    "webhook_headers",
]
__version__ = "0.2.0"
