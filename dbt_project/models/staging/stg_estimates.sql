with

source as (

    select * from {{ source('bronze', 'estimates') }}
    where dt <= {{ as_of_date() }}

),

renamed as (

    select
        ---------- ids
        cast(estimate_id as {{ dbt.type_string() }}) as estimate_id,
        cast(job_id as {{ dbt.type_string() }}) as job_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        ---------- text
        cast(status as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(subtotal as decimal(12, 2)) as subtotal,
        cast(tax as decimal(12, 2)) as tax,
        cast(total as decimal(12, 2)) as total,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(sold_at as {{ dbt.type_timestamp() }}) as sold_at,
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
