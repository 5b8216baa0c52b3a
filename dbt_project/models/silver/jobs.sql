with

source as (

    select * from {{ ref('stg_jobs') }}

),

versions as (

    select
        *,
        {{ latest_version_rank('job_id') }} as _version_rank
    from source

),

final as (

    select
        job_id,
        customer_id,
        technician_id,
        job_type,
        business_unit,
        status,
        job_total,
        created_at,
        scheduled_for,
        completed_at,
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
