-- The latest version of each call_id as of var('as_of'); see the latest_per_key macro.
-- Incremental: `lakehouse build` reads only the bronze files the previous build did not, and dbt
-- replaces the rows of the ids they touch (docs/incremental-builds.md).

{{ config(
    materialized='incremental',
    unique_key='call_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{%- set columns = [
    'call_id',
    'customer_id',
    'agent_id',
    'job_id',
    'from_number',
    'direction',
    'outcome',
    'duration_seconds',
    'started_at',
    'transcript',
    'updated_at',
    '_ingest_run_id',
    '_ingested_at',
    '_source_file',
    '_source_line',
    '_bronze_dt',
] %}

{{ latest_per_key(ref('stg_calls'), 'call_id', columns) }}
