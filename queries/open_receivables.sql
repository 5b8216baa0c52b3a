-- Open invoices with a balance, oldest past-due first, with their aging bucket.
--
-- Params (optional):
--   $as_of  the day to age invoices against, a date such as 2024-06-30 (default: today)
--
-- Example: --param as_of=2024-06-30

with

params as (

    select coalesce(cast($as_of as date), current_date) as as_of

),

open_invoices as (

    select
        invoice.invoice_id,
        invoice.customer_id,
        invoice.job_id,
        invoice.invoice_date,
        invoice.due_date,
        invoice.total,
        invoice.balance,
        date_diff('day', invoice.due_date, params.as_of) as days_past_due
    from silver.invoices as invoice
    cross join params
    where invoice.status = 'open' and invoice.balance > 0

)

select
    open_invoices.invoice_id,
    open_invoices.customer_id,
    customer.name as customer_name,
    open_invoices.job_id,
    open_invoices.invoice_date,
    open_invoices.due_date,
    open_invoices.total,
    open_invoices.balance,
    greatest(open_invoices.days_past_due, 0) as days_past_due,
    case
        when open_invoices.days_past_due <= 0 then 'current'
        when open_invoices.days_past_due <= 30 then '1-30'
        when open_invoices.days_past_due <= 60 then '31-60'
        when open_invoices.days_past_due <= 90 then '61-90'
        else '90+'
    end as aging_bucket
from open_invoices
left join silver.customers as customer
    on open_invoices.customer_id = customer.customer_id
order by open_invoices.days_past_due desc, open_invoices.balance desc, open_invoices.invoice_id
