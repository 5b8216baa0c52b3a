-- The latest version of each job_id as of var('as_of'); see the latest_per_key macro.
-- Incremental: `lakehouse build` reads only the bronze files the previous build did not, and dbt
-- replaces the rows of the ids they touch (docs/incremental-builds.md).

{{ config(
    materialized='incremental',
    unique_key='job_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{%- set columns = [
    'job_id',
    'customer_id',
    'technician_id',
    'job_type',
    'business_unit',
    'status',
    'job_total',
    'created_at',
    'scheduled_for',
    'completed_at',
    'updated_at',
    '_ingest_run_id',
    '_ingested_at',
    '_source_file',
    '_source_line',
    '_bronze_dt',
] %}

{{ latest_per_key(ref('stg_jobs'), 'job_id', columns) }}
