"""Declared dataset schemas and their versions.

The raw (bronze) schemas below are the contract between the sample-data generator, the bronze ingest
and the dbt staging models. Each column carries its DuckDB type, whether it may be null and, for an
enumerated column, the values it accepts. A dataset that is not declared here gets its schema inferred
on first ingest and recorded in the control plane (see ``lakehouse.dataplane.ingest``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One column of a declared schema.

    Attributes:
        name: column name as it appears in the extract.
        type: DuckDB logical type, e.g. ``VARCHAR``, ``TIMESTAMP``, ``DECIMAL(12,2)``.
        nullable: whether an empty value is allowed.
        enum: the accepted values of an enumerated column, or None.
    """

    name: str
    type: str
    nullable: bool = False
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DatasetSchema:
    """A named, versioned list of columns."""

    name: str
    version: str
    columns: tuple[Column, ...]
    primary_key: str | None = None
    description: str = ""
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


def _c(name: str, type_: str, nullable: bool = False, enum: tuple[str, ...] | None = None) -> Column:
    return Column(name=name, type=type_, nullable=nullable, enum=enum)


MONEY = "DECIMAL(12,2)"

CUSTOMERS = DatasetSchema(
    name="customers",
    version="1",
    primary_key="customer_id",
    description="Customers of the field-service company, one row per create or update.",
    columns=(
        _c("customer_id", "VARCHAR"),
        _c("name", "VARCHAR"),
        _c("customer_type", "VARCHAR", enum=("residential", "commercial")),
        _c("email", "VARCHAR", nullable=True),
        _c("phone", "VARCHAR", nullable=True),
        _c("street", "VARCHAR", nullable=True),
        _c("city", "VARCHAR", nullable=True),
        _c("state", "VARCHAR", nullable=True),
        _c("zip", "VARCHAR", nullable=True),
        _c("created_at", "TIMESTAMP"),
        _c("updated_at", "TIMESTAMP"),
        _c("do_not_service", "BOOLEAN"),
    ),
)

JOBS = DatasetSchema(
    name="jobs",
    version="1",
    primary_key="job_id",
    description="Service jobs booked for customers.",
    columns=(
        _c("job_id", "VARCHAR"),
        _c("customer_id", "VARCHAR"),
        _c("job_type", "VARCHAR"),
        _c("business_unit", "VARCHAR", enum=("HVAC", "Plumbing", "Electrical")),
        _c("technician_id", "VARCHAR", nullable=True),
        _c("status", "VARCHAR", enum=("scheduled", "in_progress", "completed", "canceled")),
        _c("created_at", "TIMESTAMP"),
        _c("scheduled_for", "TIMESTAMP"),
        _c("completed_at", "TIMESTAMP", nullable=True),
        _c("job_total", MONEY),
        _c("updated_at", "TIMESTAMP"),
    ),
)

CALLS = DatasetSchema(
    name="calls",
    version="1",
    primary_key="call_id",
    description="Phone calls with their transcripts.",
    columns=(
        _c("call_id", "VARCHAR"),
        _c("customer_id", "VARCHAR", nullable=True),
        _c("from_number", "VARCHAR"),
        _c("direction", "VARCHAR", enum=("inbound", "outbound")),
        _c("started_at", "TIMESTAMP"),
        _c("duration_seconds", "INTEGER"),
        _c("outcome", "VARCHAR", enum=("booked", "not_booked", "abandoned", "voicemail")),
        _c("agent_id", "VARCHAR", nullable=True),
        _c("job_id", "VARCHAR", nullable=True),
        _c("transcript", "VARCHAR", nullable=True),
        _c("updated_at", "TIMESTAMP"),
    ),
)

ESTIMATES = DatasetSchema(
    name="estimates",
    version="1",
    primary_key="estimate_id",
    description="Estimates given on jobs; opened, later sold or dismissed.",
    columns=(
        _c("estimate_id", "VARCHAR"),
        _c("job_id", "VARCHAR"),
        _c("customer_id", "VARCHAR"),
        _c("created_at", "TIMESTAMP"),
        _c("status", "VARCHAR", enum=("open", "sold", "dismissed")),
        _c("subtotal", MONEY),
        _c("tax", MONEY),
        _c("total", MONEY),
        _c("sold_at", "TIMESTAMP", nullable=True),
        _c("updated_at", "TIMESTAMP"),
    ),
)

INVOICES = DatasetSchema(
    name="invoices",
    version="1",
    primary_key="invoice_id",
    description="Invoices for jobs; issued open, later paid or voided.",
    columns=(
        _c("invoice_id", "VARCHAR"),
        _c("job_id", "VARCHAR"),
        _c("customer_id", "VARCHAR"),
        _c("invoice_date", "DATE"),
        _c("due_date", "DATE"),
        _c("subtotal", MONEY),
        _c("tax", MONEY),
        _c("total", MONEY),
        _c("balance", MONEY),
        _c("status", "VARCHAR", enum=("open", "paid", "void")),
        _c("paid_at", "TIMESTAMP", nullable=True),
        _c("updated_at", "TIMESTAMP"),
    ),
)

RAW_SCHEMAS: dict[str, DatasetSchema] = {s.name: s for s in (CUSTOMERS, JOBS, CALLS, ESTIMATES, INVOICES)}

# Lineage columns that the bronze ingest adds to every row it writes.
BRONZE_LINEAGE_COLUMNS: tuple[Column, ...] = (
    _c("_ingest_run_id", "VARCHAR"),
    _c("_ingested_at", "TIMESTAMP WITH TIME ZONE"),
    _c("_source_file", "VARCHAR"),
    _c("_source_line", "BIGINT"),
)


#: Partition keys of the zone folders (``dataset=<name>/dt=YYYY-MM-DD/``): readers that take them from
#: the path (hive partitioning, the catalog views) would show the path's value instead of a column's.
PARTITION_COLUMNS: tuple[str, ...] = ("dataset", "dt")


def reserved_column_problems(columns: Iterable[str], *, lineage: bool = True) -> list[str]:
    """Describe every column name that the zone layout or the ingest reserves, one problem per name.

    Names are compared case-insensitively, as DuckDB does. The partition keys (``dt``, ``dataset``)
    are reserved in every zone; with ``lineage`` the bronze lineage columns are too (the ingest adds
    them to every row). A dbt model checks with ``lineage=False``: silver models carry bronze's
    lineage columns on purpose.

    Args:
        columns: the column names of a source file or a model.
        lineage: also reserve :data:`BRONZE_LINEAGE_COLUMNS`.

    Returns:
        One message per reserved name, e.g. ``"'dt' is a partition key of the zone folders"``; [] if none.
    """
    partition = {name.lower() for name in PARTITION_COLUMNS}
    added = {c.name.lower() for c in BRONZE_LINEAGE_COLUMNS} if lineage else set()
    problems: list[str] = []
    for name in columns:
        folded = name.lower()
        if folded in partition:
            problems.append(f"{name!r} is a partition key of the zone folders")
        elif folded in added:
            problems.append(f"{name!r} is a lineage column the ingest adds to every row")
    return problems


def declared_schema(dataset: str) -> DatasetSchema | None:
    """Return the declared raw schema of ``dataset``, or None when it is not declared."""
    return RAW_SCHEMAS.get(dataset)


def schema_to_json(schema: DatasetSchema) -> dict[str, object]:
    """The JSON form of a schema, as recorded on a dataset version."""
    return {
        "name": schema.name,
        "version": schema.version,
        "primary_key": schema.primary_key,
        "columns": [
            {"name": c.name, "type": c.type, "nullable": c.nullable, "enum": list(c.enum) if c.enum else None}
            for c in schema.columns
        ],
    }


def schema_from_json(data: dict[str, object]) -> DatasetSchema:
    """Rebuild a schema from :func:`schema_to_json` output."""
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, list):
        raise ValueError("schema JSON has no column list")
    columns = tuple(
        Column(
            name=str(c["name"]),
            type=str(c["type"]),
            nullable=bool(c.get("nullable", True)),
            enum=tuple(c["enum"]) if c.get("enum") else None,
        )
        for c in raw_columns
    )
    pk = data.get("primary_key")
    return DatasetSchema(
        name=str(data["name"]),
        version=str(data["version"]),
        columns=columns,
        primary_key=str(pk) if pk else None,
    )


def with_added_columns(schema: DatasetSchema, added: tuple[Column, ...]) -> DatasetSchema:
    """A schema with nullable columns appended and its version bumped by one."""
    return DatasetSchema(
        name=schema.name,
        version=str(int(schema.version) + 1),
        columns=schema.columns + tuple(Column(c.name, c.type, True, c.enum) for c in added),
        primary_key=schema.primary_key,
        description=schema.description,
    )
