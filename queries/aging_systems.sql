-- Customers whose equipment is old enough to replace, from the call-transcript profiles.
--
-- Params (optional):
--   $min_age  minimum system age in years (default: 10)
--
-- Example: --param min_age=15

select
    profile.customer_id,
    customer.name,
    profile.equipment_brand,
    profile.system_age_years,
    profile.intent,
    customer.lifetime_revenue,
    customer.last_job_completed_at
from gold.customer_profiles as profile
left join gold.customer_360 as customer
    on profile.customer_id = customer.customer_id
where profile.system_age_years >= coalesce(cast($min_age as double), 10)
order by profile.system_age_years desc, profile.customer_id
