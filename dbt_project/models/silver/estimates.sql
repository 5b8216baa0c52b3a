-- The latest version of each estimate_id as of var('as_of'); see the latest_per_key macro.
-- Incremental: `lakehouse build` reads only the bronze files the previous build did not, and dbt
-- replaces the rows of the ids they touch (docs/incremental-builds.md).

{{ config(
    materialized='incremental',
    unique_key='estimate_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{%- set columns = [
    'estimate_id',
    'job_id',
    'customer_id',
    'status',
    'subtotal',
    'tax',
    'total',
    'created_at',
    'sold_at',
    'updated_at',
    '_ingest_run_id',
    '_ingested_at',
    '_source_file',
    '_source_line',
    '_bronze_dt',
] %}

{{ latest_per_key(ref('stg_estimates'), 'estimate_id', columns) }}
