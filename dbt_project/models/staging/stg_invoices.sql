with

source as (

    select * from {{ source('bronze', 'invoices') }}
    where dt <= {{ as_of_date() }}

),

renamed as (

    select
        ---------- ids
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(job_id as {{ dbt.type_string() }}) as job_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        ---------- text
        cast(status as {{ dbt.type_string() }}) as status,

        ---------- numerics
        cast(subtotal as decimal(12, 2)) as subtotal,
        cast(tax as decimal(12, 2)) as tax,
        cast(total as decimal(12, 2)) as total,
        cast(balance as decimal(12, 2)) as balance,

        ---------- dates
        cast(invoice_date as date) as invoice_date,
        cast(due_date as date) as due_date,

        ---------- timestamps
        cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,
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
