-- Inbound and outbound calls per month with the share that booked a job.
--
-- Params (optional):
--   $since  first month to include, a date such as 2024-01-01 (default: every month)
--
-- Example: --param since=2024-01-01

with

calls as (

    select
        cast(date_trunc('month', phone_call.started_at) as date) as month,
        phone_call.direction,
        phone_call.outcome
    from silver.calls as phone_call

)

select
    calls.month,
    calls.direction,
    count(*) as calls,
    count(*) filter (where calls.outcome = 'booked') as booked,
    round(count(*) filter (where calls.outcome = 'booked') / count(*), 4) as booked_share
from calls
where $since is null or calls.month >= cast($since as date)
group by calls.month, calls.direction
order by calls.month, calls.direction
