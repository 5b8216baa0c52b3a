with

source as (

    select * from {{ ref('stg_customers') }}

),

versions as (

    select
        *,
        {{ latest_version_rank('customer_id') }} as _version_rank
    from source

),

final as (

    select
        customer_id,
        name,
        customer_type,
        email,
        phone,
        street,
        city,
        state,
        zip,
        do_not_service,
        created_at,
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
