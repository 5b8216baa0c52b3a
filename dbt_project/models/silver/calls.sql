with

source as (

    select * from {{ ref('stg_calls') }}

),

versions as (

    select
        *,
        {{ latest_version_rank('call_id') }} as _version_rank
    from source

),

final as (

    select
        call_id,
        customer_id,
        agent_id,
        job_id,
        from_number,
        direction,
        outcome,
        duration_seconds,
        started_at,
        transcript,
        updated_at,
        _ingest_run_id,
        _ingested_at,
        _source_file,
        _source_line,
        _bronze_dt
    from versions
    where _version_rank = 1

)

select * from final
