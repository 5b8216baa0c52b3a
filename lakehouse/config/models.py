"""Pydantic models of the JSON config plane.

Three kinds of file, each carrying ``schema_version``:

- ``config/global.json``: :class:`GlobalConfig` (companies, notification channels, review gate, retention,
  analyst query limits);
- ``config/events/<event_type>.json``: one :data:`EventRule` per file, a union tagged by ``event_type``;
- ``config/extraction/<name>.json``: one :class:`ExtractionConfig` per file (transcript field extraction).

Every model is frozen and forbids unknown keys. Scalars are strict (``"14"`` is not an int, ``"true"`` not
a bool); lists are accepted where tuples are declared and kept as tuples. Secrets never appear in these
files: a field ending in ``_env`` names the environment variable that holds one (see
:mod:`lakehouse.config.secrets`). :class:`LakehouseConfig` bundles one loaded config directory.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sized
from typing import Annotated, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from lakehouse.config.secrets import ENV_VAR_NAME, check_env_var_name, quote
from lakehouse.names import SLUG_REGEX

SUPPORTED_SCHEMA_VERSIONS: tuple[str, ...] = ("1",)
"""The ``schema_version`` values this code reads; anything else is rejected with this list in the message."""

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


def check_schema_version(value: object) -> object:
    """Return ``value`` if it is a supported schema_version, else raise ValueError listing them."""
    if value in SUPPORTED_SCHEMA_VERSIONS:
        return value
    supported = ", ".join(repr(v) for v in SUPPORTED_SCHEMA_VERSIONS)
    hint = (
        " (write it as a string)"
        if isinstance(value, int | float) and str(value) in SUPPORTED_SCHEMA_VERSIONS
        else ""
    )
    raise ValueError(f"unsupported schema_version {quote(value)}{hint}; supported versions: {supported}")


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {quote(value)}, e.g. 'America/Chicago'") from None
    return value


_SizedT = TypeVar("_SizedT", bound=Sized)


def _check_not_empty(value: _SizedT) -> _SizedT:
    # An after-validator rather than min_length: min_length also fires when items are invalid, which
    # reports a misleading "should have at least 1 item" next to the real item errors.
    if len(value) == 0:
        raise ValueError("must not be empty")
    return value


NotEmpty = AfterValidator(_check_not_empty)
"""Marker for a tuple or dict that needs at least one item: ``Annotated[tuple[X, ...], NotEmpty]``."""


def _check_regex(value: str) -> str:
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    if "value" not in compiled.groupindex:
        raise ValueError("regular expression has no named group 'value', e.g. (?P<value>\\d+)")
    return value


SchemaVersion = Annotated[Literal["1"], BeforeValidator(check_schema_version)]
"""A supported config schema version (currently only ``"1"``)."""

NonEmptyStr = Annotated[StrictStr, StringConstraints(min_length=1)]
Phrase = Annotated[StrictStr, StringConstraints(pattern=r"\S")]
"""A word or phrase with at least one non-blank character."""
EnvVarName = Annotated[
    StrictStr, StringConstraints(pattern=ENV_VAR_NAME.pattern), AfterValidator(check_env_var_name)
]
"""The NAME of an environment variable (``SLACK_WEBHOOK_URL``), never its value (nor an ``AKIA...`` key)."""
# Anchored with ^...$: pydantic's Rust regex engine reads $ as the end of the text, like fullmatch.
Slug = Annotated[StrictStr, StringConstraints(pattern=f"^{SLUG_REGEX}$")]
"""1-63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit (used in paths)."""
Identifier = Annotated[StrictStr, StringConstraints(pattern=IDENTIFIER_PATTERN)]
"""A lowercase identifier usable as a column name: a-z first, then a-z, 0-9 or '_' (max 63)."""
TimeZoneName = Annotated[StrictStr, AfterValidator(_check_timezone)]
"""An IANA time zone name such as ``America/Chicago``."""
Regex = Annotated[StrictStr, AfterValidator(_check_regex)]
"""A Python regular expression that compiles and has a named group ``value``."""
EmailAddress = Annotated[StrictStr, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Severity = Literal["low", "medium", "high", "critical"]
"""How urgent a detected event is; notification channels filter on it."""
ReviewMode = Literal["strict", "soft"]


class ConfigModel(BaseModel):
    """Base of every config model: frozen, unknown keys rejected, no NaN/Infinity, inputs kept out of errors.

    Messages quote values with :func:`~lakehouse.config.secrets.quote`, which masks credentials;
    ``hide_input_in_errors`` keeps pydantic from appending ``input_value=...`` to ``str(ValidationError)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, hide_input_in_errors=True)


def _unique(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {quote(value)}")
        seen.add(value)
    return values


# --- global.json ------------------------------------------------------------------------------------


class CompanyConfig(ConfigModel):
    """One field-service company whose data the lakehouse holds."""

    slug: Slug = Field(description="Company id used in paths (data/<slug>/...) and on the command line.")
    display_name: NonEmptyStr = Field(description="Human-readable name for reports and notifications.")
    timezone: TimeZoneName | None = Field(
        default=None,
        description="IANA time zone of the company's local dates; None means the global timezone.",
    )
    business_units: Annotated[tuple[NonEmptyStr, ...], NotEmpty] = Field(
        description="Business units the company runs, e.g. HVAC, Plumbing, Electrical."
    )

    @field_validator("business_units")
    @classmethod
    def _unique_units(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(value, "business unit")


class SlackChannel(ConfigModel):
    """Event notifications posted to a Slack incoming webhook."""

    enabled: StrictBool = Field(default=True, description="Send to this channel at all.")
    url_env: EnvVarName = Field(
        description="Environment variable holding the webhook URL (the URL is a secret)."
    )
    channel: NonEmptyStr | None = Field(default=None, description="Channel override, e.g. '#ops-alerts'.")
    min_severity: Severity = Field(
        default="high", description="Only events at or above this severity are sent."
    )


class EmailChannel(ConfigModel):
    """Event notifications sent by SMTP email."""

    enabled: StrictBool = Field(default=True, description="Send to this channel at all.")
    smtp_host: NonEmptyStr = Field(description="SMTP server host name.")
    smtp_port: StrictInt = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    use_tls: StrictBool = Field(default=True, description="Use STARTTLS.")
    smtp_user: NonEmptyStr | None = Field(default=None, description="SMTP login; None for an open relay.")
    smtp_password_env: EnvVarName | None = Field(
        default=None,
        description="Environment variable holding the SMTP password; None when no login is needed.",
    )
    from_address: EmailAddress = Field(description="Sender address.")
    to: Annotated[tuple[EmailAddress, ...], NotEmpty] = Field(description="Recipient addresses.")
    min_severity: Severity = Field(
        default="medium", description="Only events at or above this severity are sent."
    )


NotificationMessageType = Literal["ready", "failed", "info"]
"""A notification's kind: a review gate is ready, something failed, or information (e.g. a new event)."""
SEVERITY_ORDER: tuple[Severity, ...] = ("low", "medium", "high", "critical")
"""Severities from the least to the most urgent (``min_severity`` filters compare positions)."""


class FileChannel(ConfigModel):
    """Notifications appended as JSON lines to a local file (for local use and tests)."""

    enabled: StrictBool = Field(default=True, description="Send to this channel at all.")
    path: NonEmptyStr = Field(description="The JSONL file; a relative path is relative to the data root.")
    message_types: Annotated[tuple[NotificationMessageType, ...], NotEmpty] = Field(
        default=("ready", "failed", "info"), description="Only messages of these types are written."
    )
    min_severity: Severity = Field(
        default="low", description="Only events at or above this severity are written."
    )


class NotificationsConfig(ConfigModel):
    """Where detected events and ready review gates are announced; each channel is optional.

    ``slack`` is the webhook channel: any Slack-compatible incoming webhook (JSON ``{"text": ...}``).
    ``email`` is accepted but cannot be sent by this version (``lakehouse config validate`` says so).
    """

    slack: SlackChannel | None = Field(default=None, description="Slack webhook channel, or None.")
    email: EmailChannel | None = Field(default=None, description="Email channel, or None.")
    file: FileChannel | None = Field(default=None, description="Local JSONL file channel, or None.")


class ReviewGateConfig(ConfigModel):
    """The review gate: what a failing check does to the work it gates."""

    default_mode: ReviewMode = Field(
        default="strict",
        description="strict: a failing check blocks (nothing is marked ready); soft: it is only recorded.",
    )


class RetentionConfig(ConfigModel):
    """How much history the data plane keeps."""

    keep_versions: StrictInt = Field(
        default=5,
        ge=1,
        description="Published versions kept per dataset; older ones may be garbage-collected.",
    )
    min_age_minutes: StrictInt = Field(
        default=60,
        ge=0,
        description=(
            "Grace period of gc: a version is expired, and its files deleted, only once the version "
            "that replaced it has been current this long, so analyst sessions opened before keep working."
        ),
    )


_MEMORY_SIZE = re.compile(r"\s*\d+(\.\d+)?\s*[KMGT]i?B\s*", re.IGNORECASE)


def _check_memory_size(value: str) -> str:
    if _MEMORY_SIZE.fullmatch(value) is None:
        raise ValueError(
            f"invalid memory size {quote(value)}: write a number and KB, MB, GB, TB (or KiB ... TiB), e.g. '4GB'"
        )
    return value


MemorySize = Annotated[StrictStr, AfterValidator(_check_memory_size)]
"""A memory size DuckDB understands: a number and KB, MB, GB, TB (1000^i) or KiB, MiB, GiB, TiB (1024^i)."""


class QueryConfig(ConfigModel):
    """Limits of one analyst query (``lakehouse query``); its ``--timeout`` / ``--memory-limit`` override them."""

    timeout_seconds: StrictFloat = Field(
        default=300,
        ge=0,
        description="Stop a query still running after this many seconds (output writing included); 0: no limit.",
    )
    memory_limit: MemorySize = Field(
        default="4GB",
        description="DuckDB memory_limit of a query, e.g. '4GB'; beyond it DuckDB spills to disk or fails.",
    )
    threads: StrictInt | None = Field(
        default=None, ge=1, description="DuckDB threads of a query; None: one per CPU core."
    )


class SchedulerConfig(ConfigModel):
    """The scheduler's workers (``lakehouse scheduler run``)."""

    poll_seconds: StrictFloat = Field(
        default=5, gt=0, le=3600, description="How often an idle worker looks for due tasks."
    )
    claim_lease_seconds: StrictInt = Field(
        default=300,
        ge=10,
        le=86_400,
        description=(
            "A worker renews its claim of the task it runs this often (a third of it); a claim not "
            "renewed for this long (its worker died) is taken over and the occurrence runs again."
        ),
    )
    legacy_json_dir: NonEmptyStr | None = Field(
        default=None,
        description=(
            "Compatibility mode (off when None): also append every scheduler run to <dir>/runs.jsonl "
            "in the legacy JSON format (docs/legacy-json.md), for tools that still read it. A "
            "relative path is taken from the config folder's parent (the current folder under the "
            "config shipped with the package)."
        ),
    )


class GlobalConfig(ConfigModel):
    """``config/global.json``: settings shared by every company. Holds no secrets."""

    schema_version: SchemaVersion = Field(description="Version of this file's schema; currently '1'.")
    timezone: TimeZoneName = Field(description="Default IANA time zone, e.g. 'America/Chicago'.")
    companies: Annotated[tuple[CompanyConfig, ...], NotEmpty] = Field(
        description="The companies held, slugs unique."
    )
    # Declared after `companies` so its validator can see them (pydantic validates in declaration order).
    default_company: Slug = Field(description="Company used when a command is given none; must be listed.")
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig, description="Event notification channels."
    )
    review_gate: ReviewGateConfig = Field(
        default_factory=ReviewGateConfig, description="Publishing review gate."
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig, description="Version retention.")
    query: QueryConfig = Field(default_factory=QueryConfig, description="Analyst query limits.")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="Scheduler workers.")

    @field_validator("companies")
    @classmethod
    def _unique_slugs(cls, value: tuple[CompanyConfig, ...]) -> tuple[CompanyConfig, ...]:
        _unique(tuple(c.slug for c in value), "company slug")
        return value

    @field_validator("default_company")
    @classmethod
    def _default_is_listed(cls, value: str, info: ValidationInfo) -> str:
        companies: tuple[CompanyConfig, ...] | None = info.data.get("companies")
        if companies is not None and value not in {c.slug for c in companies}:
            listed = ", ".join(quote(c.slug) for c in companies)
            raise ValueError(f"default_company {quote(value)} is not one of the companies ({listed})")
        return value

    def company(self, slug: str) -> CompanyConfig | None:
        """Return the company with this slug, or None."""
        return next((c for c in self.companies if c.slug == slug), None)

    def timezone_of(self, slug: str) -> str:
        """Return the time zone of a company (its own, else the global one)."""
        company = self.company(slug)
        return company.timezone if company is not None and company.timezone else self.timezone


# --- events/*.json ----------------------------------------------------------------------------------


class _EventRuleBase(ConfigModel):
    schema_version: SchemaVersion = Field(description="Version of this file's schema; currently '1'.")
    severity: Severity = Field(description="Severity given to each detected event.")
    enabled: StrictBool = Field(description="Whether the rule runs; disabled rules are still passed to dbt.")
    description: StrictStr = Field(description="What the rule detects, for people reading events.")
    notify: StrictBool = Field(
        default=False,
        description="Announce each new event of this rule once on the notification channels.",
    )


class UnsoldEstimateParameters(ConfigModel):
    """An open estimate older than ``min_age_days`` whose total is at least ``min_total``."""

    min_age_days: StrictInt = Field(ge=0, description="Days since the estimate was created.")
    min_total: StrictFloat = Field(
        ge=0, description="Smallest estimate total (currency units) worth chasing."
    )


class OverdueInvoiceParameters(ConfigModel):
    """An open invoice with a balance above 0 whose due date is more than ``grace_days`` ago."""

    grace_days: StrictInt = Field(
        ge=0, description="Days after the due date before the invoice counts as overdue."
    )


class LapsedCustomerParameters(ConfigModel):
    """A customer whose last completed job is more than ``months_inactive`` months ago, nothing scheduled."""

    months_inactive: StrictInt = Field(ge=1, description="Months since the last completed job.")


class MissedCallParameters(ConfigModel):
    """A call in the last ``lookback_days`` not booked and not called back within ``callback_hours``."""

    lookback_days: StrictInt = Field(ge=1, description="How far back calls are considered.")
    callback_hours: StrictInt = Field(
        ge=1, description="Hours allowed for a call back before it counts as missed."
    )


class UnsoldEstimateRule(_EventRuleBase):
    """``events/unsold_estimate.json``: estimates given but never sold."""

    event_type: Literal["unsold_estimate"] = Field(description="Rule id; one file per event type.")
    entity_type: Literal["estimate"] = Field(default="estimate", description="The entity an event points at.")
    parameters: UnsoldEstimateParameters = Field(description="Thresholds of the rule.")


class OverdueInvoiceRule(_EventRuleBase):
    """``events/overdue_invoice.json``: invoices past due."""

    event_type: Literal["overdue_invoice"] = Field(description="Rule id; one file per event type.")
    entity_type: Literal["invoice"] = Field(default="invoice", description="The entity an event points at.")
    parameters: OverdueInvoiceParameters = Field(description="Thresholds of the rule.")


class LapsedCustomerRule(_EventRuleBase):
    """``events/lapsed_customer.json``: customers who stopped booking."""

    event_type: Literal["lapsed_customer"] = Field(description="Rule id; one file per event type.")
    entity_type: Literal["customer"] = Field(default="customer", description="The entity an event points at.")
    parameters: LapsedCustomerParameters = Field(description="Thresholds of the rule.")


class MissedCallRule(_EventRuleBase):
    """``events/missed_call.json``: calls that were neither booked nor returned."""

    event_type: Literal["missed_call"] = Field(description="Rule id; one file per event type.")
    entity_type: Literal["call"] = Field(default="call", description="The entity an event points at.")
    parameters: MissedCallParameters = Field(description="Thresholds of the rule.")


EventRule = Annotated[
    UnsoldEstimateRule | OverdueInvoiceRule | LapsedCustomerRule | MissedCallRule,
    Field(discriminator="event_type"),
]
"""One event rule file; the ``event_type`` key selects the model."""

EVENT_TYPES: tuple[str, ...] = tuple(
    get_args(m.model_fields["event_type"].annotation)[0]
    for m in (UnsoldEstimateRule, OverdueInvoiceRule, LapsedCustomerRule, MissedCallRule)
)
"""Every known ``event_type``."""


# --- extraction/*.json ------------------------------------------------------------------------------


class SourceSpec(ConfigModel):
    """Which dataset and columns the extraction reads."""

    dataset: NonEmptyStr = Field(default="calls", description="Dataset holding the text.")
    id_column: NonEmptyStr = Field(default="call_id", description="Row id, copied to every extracted row.")
    entity_column: NonEmptyStr = Field(default="customer_id", description="Entity the text is about.")
    text_column: NonEmptyStr = Field(default="transcript", description="Column holding the free text.")
    timestamp_column: NonEmptyStr = Field(default="started_at", description="When the text was produced.")


class VocabularyField(ConfigModel):
    """Map phrases found in the text to a canonical value (e.g. brand names).

    ``vocabulary`` maps each canonical value to the phrases that identify it, matched case-insensitively as
    whole words/phrases. List the canonical spelling among its phrases if it should match as written.
    A phrase may belong to one canonical value only.
    """

    name: Identifier = Field(description="Output column name; unique within the file.")
    kind: Literal["vocabulary"] = Field(description="Field kind tag.")
    description: StrictStr = Field(default="", description="What the field means.")
    vocabulary: Annotated[dict[NonEmptyStr, Annotated[tuple[Phrase, ...], NotEmpty]], NotEmpty] = Field(
        description="Canonical value -> phrases (synonyms) that identify it."
    )

    @field_validator("vocabulary")
    @classmethod
    def _phrases_unambiguous(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        owner: dict[str, str] = {}
        for canonical, phrases in value.items():
            for phrase in phrases:
                key = " ".join(phrase.lower().split())
                if key in owner and owner[key] != canonical:
                    raise ValueError(
                        f"phrase {quote(phrase)} is listed under both {quote(owner[key])} "
                        f"and {quote(canonical)}"
                    )
                owner[key] = canonical
        return value


class PatternField(ConfigModel):
    """Extract a value with regular expressions; the first pattern that matches wins.

    Each pattern is a Python regular expression (matched case-insensitively) with a named group ``value``
    whose text is converted to ``value_type``; numeric values outside ``[min, max]`` are discarded.
    """

    name: Identifier = Field(description="Output column name; unique within the file.")
    kind: Literal["pattern"] = Field(description="Field kind tag.")
    description: StrictStr = Field(default="", description="What the field means.")
    patterns: Annotated[tuple[Regex, ...], NotEmpty] = Field(
        description="Regexes tried in order; each has (?P<value>...)."
    )
    value_type: Literal["int", "float", "str"] = Field(description="Type the captured text is converted to.")
    min: StrictFloat | None = Field(default=None, description="Smallest accepted value (numeric types only).")
    max: StrictFloat | None = Field(default=None, description="Largest accepted value (numeric types only).")

    @field_validator("min", "max")
    @classmethod
    def _numeric_only(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("value_type") == "str":
            raise ValueError(f"{info.field_name} applies to value_type 'int' or 'float' only")
        return value

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min")
        if value is not None and low is not None and low > value:
            raise ValueError(f"max ({value}) is less than min ({low})")
        return value


class KeywordClassField(ConfigModel):
    """Classify the text by keywords: the first class in ``priority`` order with a keyword hit wins.

    Keywords are matched case-insensitively as whole words/phrases.
    """

    name: Identifier = Field(description="Output column name; unique within the file.")
    kind: Literal["keyword_classes"] = Field(description="Field kind tag.")
    description: StrictStr = Field(default="", description="What the field means.")
    classes: Annotated[dict[Identifier, Annotated[tuple[Phrase, ...], NotEmpty]], NotEmpty] = Field(
        description="Class name -> keywords/phrases that indicate it."
    )
    priority: tuple[Identifier, ...] = Field(
        description="Every class name exactly once, most decisive first."
    )

    @field_validator("priority")
    @classmethod
    def _priority_lists_classes(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        _unique(value, "class in priority")
        classes: dict[str, tuple[str, ...]] | None = info.data.get("classes")
        if classes is None:  # classes itself is invalid and already reported
            return value
        missing = [c for c in classes if c not in value]
        unknown = [c for c in value if c not in classes]
        if missing or unknown:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(quote(c) for c in missing))
            if unknown:
                parts.append("not a class: " + ", ".join(quote(c) for c in unknown))
            raise ValueError("priority must list exactly the class names (" + "; ".join(parts) + ")")
        return value


ExtractionField = Annotated[VocabularyField | PatternField | KeywordClassField, Field(discriminator="kind")]
"""One extracted field; the ``kind`` key selects the model."""

FIELD_KINDS: tuple[str, ...] = tuple(
    get_args(m.model_fields["kind"].annotation)[0] for m in (VocabularyField, PatternField, KeywordClassField)
)
"""Every known extraction field ``kind``."""


class ExtractionConfig(ConfigModel):
    """``config/extraction/<name>.json``: fields extracted from a free-text column (call transcripts)."""

    schema_version: SchemaVersion = Field(description="Version of this file's schema; currently '1'.")
    name: Slug = Field(description="Extraction id (slug); unique across files, names the output dataset.")
    description: StrictStr = Field(description="What the extraction is for.")
    source: SourceSpec = Field(default_factory=SourceSpec, description="Dataset and columns read.")
    output_dataset: Slug = Field(
        default="customer_profiles",
        description="Gold dataset written by `lakehouse extract`: one row per entity with each field's latest value.",
    )
    fields: Annotated[tuple[ExtractionField, ...], NotEmpty] = Field(
        description="Fields extracted; names unique."
    )

    @field_validator("fields")
    @classmethod
    def _unique_field_names(cls, value: tuple[ExtractionField, ...]) -> tuple[ExtractionField, ...]:
        first: dict[str, int] = {}
        for i, field in enumerate(value):
            if field.name in first:
                raise ValueError(
                    f"duplicate field name {quote(field.name)} (fields[{first[field.name]}] and fields[{i}])"
                )
            first[field.name] = i
        return value

    def field(self, name: str) -> VocabularyField | PatternField | KeywordClassField | None:
        """Return the field with this name, or None."""
        return next((f for f in self.fields if f.name == name), None)


# --- the whole directory ----------------------------------------------------------------------------


class LakehouseConfig(ConfigModel):
    """Everything loaded from one config directory (see :func:`lakehouse.config.load_config`)."""

    global_: GlobalConfig = Field(description="config/global.json.")
    events: tuple[EventRule, ...] = Field(
        default=(), description="One rule per event type, in file-name order."
    )
    extraction: tuple[ExtractionConfig, ...] = Field(
        default=(), description="Extraction configs, file-name order."
    )

    @field_validator("events")
    @classmethod
    def _unique_event_types(cls, value: tuple[EventRule, ...]) -> tuple[EventRule, ...]:
        _unique(tuple(r.event_type for r in value), "event_type")
        return value

    @field_validator("extraction")
    @classmethod
    def _unique_extraction_names(cls, value: tuple[ExtractionConfig, ...]) -> tuple[ExtractionConfig, ...]:
        _unique(tuple(x.name for x in value), "extraction name")
        return value

    def event_rule(self, event_type: str) -> EventRule | None:
        """Return the rule for ``event_type``, or None when no file defines it."""
        return next((r for r in self.events if r.event_type == event_type), None)

    def extraction_config(self, name: str) -> ExtractionConfig | None:
        """Return the extraction config named ``name``, or None."""
        return next((x for x in self.extraction if x.name == name), None)

    def events_dbt_vars(self) -> dict[str, dict[str, object]]:
        """Return the dbt var ``events``: every rule, enabled or not, with its parameters flattened.

        Returns:
            ``{event_type: {"enabled": bool, "severity": str, "entity_type": str, **parameters}}``.
        """
        return {
            rule.event_type: {
                "enabled": rule.enabled,
                "severity": rule.severity,
                "entity_type": rule.entity_type,
                **rule.parameters.model_dump(),
            }
            for rule in self.events
        }
