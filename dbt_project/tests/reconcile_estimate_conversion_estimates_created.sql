-- estimate_conversion.estimates_created adds up to the number of silver estimates.

with

gold as (

    select coalesce(sum(estimates_created), 0) as estimate_count
    from {{ ref('estimate_conversion') }}

),

silver as (

    select count(*) as estimate_count
    from {{ ref('estimates') }}

)

select
    gold.estimate_count as gold_count,
    silver.estimate_count as silver_count
from gold
cross join silver
where gold.estimate_count <> silver.estimate_count
