{#
    Reconciliation: the column adds up to the total of the non-void silver invoices it comes from.
    Fails with one row (both amounts) when it does not.
#}
{% test sums_to_non_void_invoice_total(model, column_name) %}

with

gold as (

    select coalesce(sum({{ column_name }}), 0) as amount
    from {{ model }}

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

{% endtest %}
