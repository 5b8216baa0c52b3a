-- customer_360 has exactly one row per silver customer.

with

gold as (

    select count(*) as row_count
    from {{ ref('customer_360') }}

),

silver as (

    select count(*) as row_count
    from {{ ref('customers') }}

)

select
    gold.row_count as gold_count,
    silver.row_count as silver_count
from gold
cross join silver
where gold.row_count <> silver.row_count
