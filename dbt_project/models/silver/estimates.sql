with

source as (

    select * from {{ ref('stg_estimates') }}

),

versions as (

    select
        *,
        {{ latest_version_rank('estimate_id') }} as _version_rank
    from source

),

final as (

    select
        estimate_id,
        job_id,
        customer_id,
        status,
        subtotal,
        tax,
        total,
        created_at,
        sold_at,
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
