{#
    Run variables, validated once here so that models only ever splice checked values into SQL.
#}

{% macro as_of() -%}
    {#- The as_of date as 'YYYY-MM-DD'; an empty var means the UTC date the run started. -#}
    {%- set raw = var('as_of', '') | string | trim -%}
    {%- if raw in ('', 'none', 'None') and execute -%}
        {#- `lakehouse build` passes the as-of in the environment, not in --vars, and only reads it
            when executing: dbt's partial parse (keyed on --vars) then survives a new as-of. -#}
        {%- set raw = env_var('LAKEHOUSE_DBT_AS_OF', '') | trim -%}
    {%- endif -%}
    {%- if raw in ('', 'none', 'None') -%}
        {{ return(run_started_at.strftime('%Y-%m-%d')) }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', raw) -%}
        {{ exceptions.raise_compiler_error("var 'as_of' must be a date YYYY-MM-DD, got '" ~ raw ~ "'") }}
    {%- endif -%}
    {#- strptime raises on an impossible date such as 2024-02-30 -#}
    {%- set _ = modules.datetime.datetime.strptime(raw, '%Y-%m-%d') -%}
    {{ return(raw) }}
{%- endmacro %}

{% macro as_of_date() -%}
    {#- SQL expression: the as_of date. -#}
    cast('{{ as_of() }}' as date)
{%- endmacro %}

{% macro as_of_instant() -%}
    {#- SQL expression: the as-of instant, i.e. the start of the day after as_of (end of the as_of day). -#}
    {{ dbt.dateadd('day', 1, "cast('" ~ as_of() ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}

{% macro company() -%}
    {#- The company slug as a plain string, checked against the slug rule of lakehouse/names.py
        (SLUG_REGEX; tests/test_one_copy.py keeps this copy equal to it). -#}
    {%- set raw = var('company') | string | trim -%}
    {%- if not modules.re.match('^[a-z0-9][a-z0-9_-]{0,62}$', raw) -%}
        {{ exceptions.raise_compiler_error("var 'company' must be a slug (1-63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit), got '" ~ raw ~ "'") }}
    {%- endif -%}
    {{ return(raw) }}
{%- endmacro %}

{% macro sql_string(value) -%}
    {#- A Python string as a quoted SQL string literal. -#}
    '{{ dbt.escape_single_quotes(value | string) }}'
{%- endmacro %}
