"""The config plane: versioned JSON files in the config directory, validated by pydantic.

Use :func:`load_config` to get a :class:`LakehouseConfig` (or a :class:`~lakehouse.errors.ConfigError`
listing every problem) and :func:`validate_config_dir` to get the problems without raising.
"""

from __future__ import annotations

from lakehouse.config.loader import list_config_files, load_config, validate_config_dir
from lakehouse.config.models import (
    EVENT_TYPES,
    FIELD_KINDS,
    SUPPORTED_SCHEMA_VERSIONS,
    CompanyConfig,
    EmailChannel,
    EventRule,
    ExtractionConfig,
    ExtractionField,
    GlobalConfig,
    KeywordClassField,
    LakehouseConfig,
    LapsedCustomerParameters,
    LapsedCustomerRule,
    MissedCallParameters,
    MissedCallRule,
    NotificationsConfig,
    OverdueInvoiceParameters,
    OverdueInvoiceRule,
    PatternField,
    RetentionConfig,
    ReviewGateConfig,
    SlackChannel,
    SourceSpec,
    UnsoldEstimateParameters,
    UnsoldEstimateRule,
    VocabularyField,
)
from lakehouse.config.secrets import find_literal_secrets, resolve_secret

__all__ = [
    "EVENT_TYPES",
    "FIELD_KINDS",
    "SUPPORTED_SCHEMA_VERSIONS",
    "CompanyConfig",
    "EmailChannel",
    "EventRule",
    "ExtractionConfig",
    "ExtractionField",
    "GlobalConfig",
    "KeywordClassField",
    "LakehouseConfig",
    "LapsedCustomerParameters",
    "LapsedCustomerRule",
    "MissedCallParameters",
    "MissedCallRule",
    "NotificationsConfig",
    "OverdueInvoiceParameters",
    "OverdueInvoiceRule",
    "PatternField",
    "RetentionConfig",
    "ReviewGateConfig",
    "SlackChannel",
    "SourceSpec",
    "UnsoldEstimateParameters",
    "UnsoldEstimateRule",
    "VocabularyField",
    "find_literal_secrets",
    "list_config_files",
    "load_config",
    "resolve_secret",
    "validate_config_dir",
]
