{#
    Fails for every combination of `combination_of_columns` that occurs on more than one row
    (null counts as a value, so (null, x) twice is a duplicate too).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

)

select * from grouped
where row_count > 1

{% endtest %}
