{#-
    Events detected as of var('as_of'): one row per (event_type, entity). The as-of instant is the
    start of the day after as_of (the end of the as_of day). Each rule is one CTE, compiled in only
    when var('events')[<rule>].enabled is true; with no rule enabled the result is empty but typed.
    event_id = md5('<company>|<event_type>|<entity_type>|<entity_id>'), stable across runs.

    missed_call: an inbound call that was abandoned or not booked, started within lookback_days before
    the as-of instant, whose callback window (callback_hours after it started) has closed by the as-of
    instant (started_at + callback_hours <= as-of instant), with no outbound call to the same
    normalized number strictly after it and within callback_hours. A call whose window is still open
    is not flagged yet: an event is never raised for a call that can still be called back.
-#}

{%- set rules = {
    'unsold_estimate': event_rule('unsold_estimate', 'estimate', {'min_age_days': 'int', 'min_total': 'number'}),
    'overdue_invoice': event_rule('overdue_invoice', 'invoice', {'grace_days': 'int'}),
    'lapsed_customer': event_rule('lapsed_customer', 'customer', {'months_inactive': 'int'}),
    'missed_call': event_rule('missed_call', 'call', {'lookback_days': 'int', 'callback_hours': 'int'}),
} -%}

{%- set enabled_rules = [] -%}
{%- for name, rule in rules.items() if rule.enabled -%}
    {%- do enabled_rules.append(name) -%}
{%- endfor -%}

with

{% if 'unsold_estimate' in enabled_rules -%}
{%- set rule = rules['unsold_estimate'] %}
unsold_estimate as (

    -- open estimates created more than min_age_days before the as-of instant, total >= min_total
    select
        estimate_id as entity_id,
        customer_id,
        {{ json_object_text([
            ('job_id', 'job_id'),
            ('total', 'total'),
            ('created_at', 'created_at'),
            ('age_days', dbt.datediff('cast(created_at as date)', as_of_date(), 'day')),
            ('min_age_days', rule.min_age_days),
            ('min_total', rule.min_total),
        ]) }} as details
    from {{ ref('estimates') }}
    where status = 'open'
        and created_at < {{ dbt.dateadd('day', -rule.min_age_days, as_of_instant()) }}
        and total >= {{ rule.min_total }}

),

{% endif -%}

{% if 'overdue_invoice' in enabled_rules -%}
{%- set rule = rules['overdue_invoice'] %}
overdue_invoice as (

    -- open invoices with a balance whose due_date is more than grace_days before as_of
    select
        invoice_id as entity_id,
        customer_id,
        {{ json_object_text([
            ('job_id', 'job_id'),
            ('total', 'total'),
            ('balance', 'balance'),
            ('invoice_date', 'invoice_date'),
            ('due_date', 'due_date'),
            ('days_overdue', dbt.datediff('due_date', as_of_date(), 'day')),
            ('grace_days', rule.grace_days),
        ]) }} as details
    from {{ ref('invoices') }}
    where status = 'open'
        and balance > 0
        and due_date < cast({{ dbt.dateadd('day', -rule.grace_days, as_of_date()) }} as date)

),

{% endif -%}

{% if 'lapsed_customer' in enabled_rules -%}
{%- set rule = rules['lapsed_customer'] %}
completed_work as (

    select
        customer_id,
        count(*) as completed_jobs,
        max(completed_at) as last_completed_at
    from {{ ref('jobs') }}
    where status = 'completed'
        and completed_at is not null
    group by customer_id

),

pending_work as (

    select distinct customer_id
    from {{ ref('jobs') }}
    where status in ('scheduled', 'in_progress')

),

lapsed_customer as (

    -- customers whose last completed job is more than months_inactive months before the as-of
    -- instant and who have no job scheduled or in progress
    select
        completed_work.customer_id as entity_id,
        completed_work.customer_id,
        {{ json_object_text([
            ('last_completed_at', 'completed_work.last_completed_at'),
            ('completed_jobs', 'completed_work.completed_jobs'),
            ('months_inactive', dbt.datediff('completed_work.last_completed_at', as_of_date(), 'month')),
            ('min_months_inactive', rule.months_inactive),
        ]) }} as details
    from completed_work
    left join pending_work
        on completed_work.customer_id = pending_work.customer_id
    where pending_work.customer_id is null
        and completed_work.last_completed_at
            < {{ dbt.dateadd('month', -rule.months_inactive, as_of_instant()) }}

),

{% endif -%}

{% if 'missed_call' in enabled_rules -%}
{%- set rule = rules['missed_call'] %}
missed_inbound as (

    -- unanswered inbound calls of the last lookback_days whose callback window has closed
    select *
    from {{ ref('calls') }}
    where direction = 'inbound'
        and outcome in ('abandoned', 'not_booked')
        and started_at >= {{ dbt.dateadd('day', -rule.lookback_days, as_of_instant()) }}
        and started_at < {{ as_of_instant() }}
        and {{ dbt.dateadd('hour', rule.callback_hours, 'started_at') }} <= {{ as_of_instant() }}

),

outbound as (

    -- no as-of bound needed: a missed call's window ends by the as-of instant
    select from_number, started_at
    from {{ ref('calls') }}
    where direction = 'outbound'
        and from_number is not null

),

missed_call as (

    -- missed inbound calls whose callback window has closed with no outbound call to the same
    -- number strictly after them and within callback_hours
    select
        missed_inbound.call_id as entity_id,
        missed_inbound.customer_id,
        {{ json_object_text([
            ('started_at', 'missed_inbound.started_at'),
            ('outcome', 'missed_inbound.outcome'),
            ('from_number', 'missed_inbound.from_number'),
            ('duration_seconds', 'missed_inbound.duration_seconds'),
            ('callback_hours', rule.callback_hours),
        ]) }} as details
    from missed_inbound
    where not exists (
        select 1
        from outbound
        where outbound.from_number = missed_inbound.from_number
            and outbound.started_at > missed_inbound.started_at
            and outbound.started_at
                <= {{ dbt.dateadd('hour', rule.callback_hours, 'missed_inbound.started_at') }}
    )

),

{% endif -%}

events as (

    -- no rows: fixes the column types, and is the whole result when no rule is enabled
    select
        cast(null as {{ dbt.type_string() }}) as event_id,
        cast(null as {{ dbt.type_string() }}) as company,
        cast(null as {{ dbt.type_string() }}) as event_type,
        cast(null as {{ dbt.type_string() }}) as entity_type,
        cast(null as {{ dbt.type_string() }}) as entity_id,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as severity,
        cast(null as date) as as_of_date,
        cast(null as {{ dbt.type_string() }}) as details
    where 1 = 0

    {%- for name in enabled_rules %}
    {%- set rule = rules[name] %}

    union all

    select
        {{ event_id(name, rule.entity_type, 'entity_id') }} as event_id,
        {{ sql_string(company()) }} as company,
        {{ sql_string(name) }} as event_type,
        {{ sql_string(rule.entity_type) }} as entity_type,
        cast(entity_id as {{ dbt.type_string() }}) as entity_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        {{ sql_string(rule.severity) }} as severity,
        {{ as_of_date() }} as as_of_date,
        details
    from {{ name }}
    {%- endfor %}

),

final as (

    select * from events

)

select * from final
