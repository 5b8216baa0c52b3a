{#
    Normalization of dirty raw values, shared by the staging models. Adapter-specific bits go
    through adapter.dispatch so the same models can run on another engine (Spark) one day.
#}

{% macro digits_only(expression) -%}
    {{ return(adapter.dispatch('digits_only', 'lakehouse')(expression)) }}
{%- endmacro %}

{% macro default__digits_only(expression) -%}
    regexp_replace({{ expression }}, '[^0-9]', '')
{%- endmacro %}

{% macro duckdb__digits_only(expression) -%}
    regexp_replace({{ expression }}, '[^0-9]', '', 'g')
{%- endmacro %}

{% macro postgres__digits_only(expression) -%}
    regexp_replace({{ expression }}, '[^0-9]', '', 'g')
{%- endmacro %}

{% macro normalize_phone(expression) -%}
    {#- A US phone number as its 10 digits: non-digits stripped, a leading 1 of 11 digits dropped; else null. -#}
    {%- set digits = digits_only(expression) -%}
    case
        when {{ dbt.length(digits) }} = 10 then {{ digits }}
        when {{ dbt.length(digits) }} = 11 and substring({{ digits }}, 1, 1) = '1'
            then substring({{ digits }}, 2, 10)
    end
{%- endmacro %}

{% macro normalize_email(expression) -%}
    nullif(lower(trim({{ expression }})), '')
{%- endmacro %}

{% macro normalize_state(expression) -%}
    nullif(upper(trim({{ expression }})), '')
{%- endmacro %}

{% macro clean_text(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}
