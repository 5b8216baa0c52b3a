{#
    A JSON object text built from (key, SQL expression) pairs, e.g.
    json_object_text([('total', 'total'), ('age_days', 'age_days')]).
#}
{% macro json_object_text(pairs) -%}
    {{ return(adapter.dispatch('json_object_text', 'lakehouse')(pairs)) }}
{%- endmacro %}

{% macro default__json_object_text(pairs) -%}
    cast(json_object(
        {%- for key, expression in pairs %}
        '{{ key }}', {{ expression }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__json_object_text(pairs) -%}
    cast(json_build_object(
        {%- for key, expression in pairs %}
        '{{ key }}', {{ expression }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__json_object_text(pairs) -%}
    to_json(named_struct(
        {%- for key, expression in pairs %}
        '{{ key }}', {{ expression }}{{ "," if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}
