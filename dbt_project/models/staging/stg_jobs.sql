with

source as (

    select * from {{ source('bronze', 'jobs') }}
    where dt <= {{ as_of_date() }}

),

renamed as (

    select
        ---------- ids
        cast(job_id as {{ dbt.type_string() }}) as job_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        {{ clean_text('technician_id') }} as technician_id,

        ---------- text
        {{ clean_text('job_type') }} as job_type,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(status as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(job_total as decimal(12, 2)) as job_total,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(scheduled_for as {{ dbt.type_timestamp() }}) as scheduled_for,
        cast(completed_at as {{ dbt.type_timestamp() }}) as completed_at,
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
