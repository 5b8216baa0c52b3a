-- Customers with the highest lifetime revenue.
--
-- Params (optional):
--   $limit  how many customers to list (default: 20)
--
-- Example: --param limit=50

select
    customer.customer_id,
    customer.name,
    customer.customer_type,
    customer.completed_jobs,
    customer.lifetime_revenue,
    customer.open_balance,
    customer.open_estimates_total,
    customer.last_job_completed_at,
    customer.total_calls,
    customer.last_call_at
from gold.customer_360 as customer
order by customer.lifetime_revenue desc nulls last, customer.customer_id
limit coalesce(cast($limit as integer), 20)
