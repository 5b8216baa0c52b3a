with

source as (

    select * from {{ source('bronze', 'calls') }}
    where dt <= {{ as_of_date() }}

),

renamed as (

    select
        ---------- ids
        cast(call_id as {{ dbt.type_string() }}) as call_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('agent_id') }} as agent_id,
        {{ clean_text('job_id') }} as job_id,

        ---------- text
        {{ normalize_phone('from_number') }} as from_number,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(outcome as {{ dbt.type_string() }}) as outcome,
        cast(transcript as {{ dbt.type_string() }}) as transcript,

        ---------- numerics
        cast(duration_seconds as {{ dbt.type_int() }}) as duration_seconds,

        ---------- timestamps
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ---------- lineage
        _ingest_run_id,
        _ingested_at,
        _source_file,
        _source_line,
        dt as _bronze_dt

    from source

)

select * from renamed
