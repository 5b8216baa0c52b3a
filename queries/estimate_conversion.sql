-- Estimates created and sold per month and business unit, with the conversion rate.
--
-- Params (optional):
--   $since          first month to include, a date such as 2024-01-01 (default: every month)
--   $business_unit  only this business unit: HVAC, Plumbing or Electrical (default: all)
--
-- Example: --param since=2024-01-01 --param business_unit=HVAC

select
    conversion.month,
    conversion.business_unit,
    conversion.estimates_created,
    conversion.estimates_sold,
    conversion.sold_total,
    conversion.conversion_rate
from gold.estimate_conversion as conversion
where
    ($since is null or conversion.month >= cast($since as date))
    and ($business_unit is null or conversion.business_unit = $business_unit)
order by conversion.month, conversion.business_unit
