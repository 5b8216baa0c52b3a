with

source as (

    select * from {{ source('bronze', 'customers') }}
    where dt <= {{ as_of_date() }}

),

renamed as (

    select
        ---------- ids
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        ---------- text
        {{ clean_text('name') }} as name,
        cast(customer_type as {{ dbt.type_string() }}) as customer_type,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ clean_text('street') }} as street,
        {{ clean_text('city') }} as city,
        {{ normalize_state('state') }} as state,
        {{ clean_text('zip') }} as zip,

        ---------- booleans
        cast(do_not_service as {{ dbt.type_boolean() }}) as do_not_service,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
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
