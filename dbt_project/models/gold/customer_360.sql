-- One row per customer with their jobs, money and calls. Void invoices are left out.

with

customers as (

    select * from {{ ref('customers') }}

),

jobs as (

    select * from {{ ref('jobs') }}

),

invoices as (

    select * from {{ ref('invoices') }}
    where status <> 'void'

),

estimates as (

    select * from {{ ref('estimates') }}

),

calls as (

    select * from {{ ref('calls') }}

),

job_facts as (

    select
        customer_id,
        count(*) as completed_jobs,
        min(completed_at) as first_job_completed_at,
        max(completed_at) as last_job_completed_at
    from jobs
    where status = 'completed'
    group by customer_id

),

invoice_facts as (

    select
        customer_id,
        sum(total) as lifetime_revenue,
        sum(case when status = 'open' then balance else 0 end) as open_balance
    from invoices
    group by customer_id

),

estimate_facts as (

    select
        customer_id,
        sum(total) as open_estimates_total
    from estimates
    where status = 'open'
    group by customer_id

),

call_facts as (

    select
        customer_id,
        count(*) as total_calls,
        max(started_at) as last_call_at
    from calls
    where customer_id is not null
    group by customer_id

),

final as (

    select
        customers.customer_id,
        customers.name,
        customers.customer_type,
        coalesce(job_facts.completed_jobs, 0) as completed_jobs,
        job_facts.first_job_completed_at,
        job_facts.last_job_completed_at,
        cast(coalesce(invoice_facts.lifetime_revenue, 0) as decimal(18, 2)) as lifetime_revenue,
        cast(coalesce(invoice_facts.open_balance, 0) as decimal(18, 2)) as open_balance,
        cast(coalesce(estimate_facts.open_estimates_total, 0) as decimal(18, 2)) as open_estimates_total,
        coalesce(call_facts.total_calls, 0) as total_calls,
        call_facts.last_call_at
    from customers
    left join job_facts
        on customers.customer_id = job_facts.customer_id
    left join invoice_facts
        on customers.customer_id = invoice_facts.customer_id
    left join estimate_facts
        on customers.customer_id = estimate_facts.customer_id
    left join call_facts
        on customers.customer_id = call_facts.customer_id

)

select * from final
