-- The latest version of each invoice_id as of var('as_of'); see the latest_per_key macro.
-- Incremental: `lakehouse build` reads only the bronze files the previous build did not, and dbt
-- replaces the rows of the ids they touch (docs/incremental-builds.md).

{{ config(
    materialized='incremental',
    unique_key='invoice_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{%- set columns = [
    'invoice_id',
    'job_id',
    'customer_id',
    'status',
    'subtotal',
    'tax',
    'total',
    'balance',
    'invoice_date',
    'due_date',
    'paid_at',
    'updated_at',
    '_ingest_run_id',
    '_ingested_at',
    '_source_file',
    '_source_line',
    '_bronze_dt',
] %}

{{ latest_per_key(ref('stg_invoices'), 'invoice_id', columns) }}
