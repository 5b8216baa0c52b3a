-- Events found by the latest build (the active ones), most severe first.
--
-- Params (optional):
--   $event_type  only this event type, e.g. overdue_invoice (default: all)
--   $severity    only this severity, e.g. high (default: all)
--
-- Example: --param event_type=overdue_invoice

with

latest as (

    select max(event.as_of_date) as as_of_date
    from gold.event_facts as event

)

select
    event.event_id,
    event.event_type,
    event.severity,
    event.entity_type,
    event.entity_id,
    event.customer_id,
    event.as_of_date,
    event.details
from gold.event_facts as event
inner join latest
    on event.as_of_date = latest.as_of_date
where
    ($event_type is null or event.event_type = $event_type)
    and ($severity is null or event.severity = $severity)
order by
    case event.severity
        when 'critical' then 0
        when 'high' then 1
        when 'medium' then 2
        when 'low' then 3
        else 4
    end,
    event.event_type,
    event.entity_id
