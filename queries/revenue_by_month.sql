-- Invoiced and collected revenue per month and business unit.
--
-- Params (optional):
--   $since  first month to include, a date such as 2024-01-01 (default: every month)
--
-- Example: --param since=2024-01-01

select
    revenue.month,
    revenue.business_unit,
    revenue.invoice_count,
    revenue.invoiced_total,
    revenue.collected_total,
    round(revenue.collected_total / nullif(revenue.invoiced_total, 0), 4) as collected_share
from gold.revenue_by_month as revenue
where $since is null or revenue.month >= cast($since as date)
order by revenue.month, revenue.business_unit
