with

source as (

    select * from {{ ref('stg_invoices') }}

),

versions as (

    select
        *,
        {{ latest_version_rank('invoice_id') }} as _version_rank
    from source

),

final as (

    select
        invoice_id,
        job_id,
        customer_id,
        status,
        subtotal,
        tax,
        total,
        balance,
        invoice_date,
        due_date,
        paid_at,
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
