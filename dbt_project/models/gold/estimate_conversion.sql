-- Estimates created and sold per month of created_at and business unit of the estimate's job.

with

estimates as (

    select * from {{ ref('estimates') }}

),

jobs as (

    select * from {{ ref('jobs') }}

),

estimate_lines as (

    select
        cast({{ dbt.date_trunc('month', 'estimates.created_at') }} as date) as month,
        jobs.business_unit,
        estimates.status,
        estimates.total
    from estimates
    left join jobs
        on estimates.job_id = jobs.job_id

),

counts as (

    select
        month,
        business_unit,
        count(*) as estimates_created,
        count(case when status = 'sold' then 1 end) as estimates_sold,
        sum(case when status = 'sold' then total else 0 end) as sold_total
    from estimate_lines
    group by month, business_unit

),

final as (

    select
        month,
        business_unit,
        estimates_created,
        estimates_sold,
        cast(sold_total as decimal(18, 2)) as sold_total,
        cast(estimates_sold as double) / estimates_created as conversion_rate
    from counts

)

select * from final
