-- revenue_by_month.invoiced_total adds up to the total of the non-void silver invoices.

with

gold as (

    select coalesce(sum(invoiced_total), 0) as amount
    from {{ ref('revenue_by_month') }}

),

silver as (

    select coalesce(sum(total), 0) as amount
    from {{ ref('invoices') }}
    where status <> 'void'

)

select
    gold.amount as gold_amount,
    silver.amount as silver_amount
from gold
cross join silver
where gold.amount <> silver.amount
