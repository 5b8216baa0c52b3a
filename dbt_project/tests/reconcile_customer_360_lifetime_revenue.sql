-- customer_360.lifetime_revenue adds up to the total of the non-void silver invoices.

with

gold as (

    select coalesce(sum(lifetime_revenue), 0) as amount
    from {{ ref('customer_360') }}

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
