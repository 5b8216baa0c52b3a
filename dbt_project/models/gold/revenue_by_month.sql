-- Invoiced and collected amounts per month of invoice_date and business unit of the invoiced job.
-- Void invoices are left out.

with

invoices as (

    select * from {{ ref('invoices') }}
    where status <> 'void'

),

jobs as (

    select * from {{ ref('jobs') }}

),

invoice_lines as (

    select
        cast({{ dbt.date_trunc('month', 'invoices.invoice_date') }} as date) as month,
        jobs.business_unit,
        invoices.total,
        invoices.balance
    from invoices
    left join jobs
        on invoices.job_id = jobs.job_id

),

final as (

    select
        month,
        business_unit,
        count(*) as invoice_count,
        cast(sum(total) as decimal(18, 2)) as invoiced_total,
        cast(sum(total - balance) as decimal(18, 2)) as collected_total
    from invoice_lines
    group by month, business_unit

)

select * from final
