{#
    Configuration of one event rule of models/gold/event_facts.sql, read from var('events') and
    validated: event_rule('overdue_invoice', 'invoice', {'grace_days': 'int'}) returns
    {'enabled': bool, 'severity': str, 'entity_type': str, 'grace_days': <number>}.
    A rule missing from var('events') is disabled; an enabled rule must carry every parameter as a
    non-negative number.
#}
{% macro event_rule(event_type, default_entity_type, parameters) -%}
    {#- parameters: mapping of parameter name -> 'int' (whole number) or 'number'. -#}
    {%- set all_rules = var('events', {}) or {} -%}
    {%- if all_rules is not mapping -%}
        {{ exceptions.raise_compiler_error("var 'events' must be a mapping of event_type -> settings") }}
    {%- endif -%}
    {%- set settings = all_rules.get(event_type, {}) or {} -%}
    {%- if settings is not mapping -%}
        {{ exceptions.raise_compiler_error("var 'events." ~ event_type ~ "' must be a mapping") }}
    {%- endif -%}
    {%- set enabled = settings.get('enabled', false) -%}
    {%- set rule = {
        'enabled': enabled is sameas true or (enabled | string | lower) == 'true',
        'severity': (settings.get('severity') or 'medium') | string,
        'entity_type': (settings.get('entity_type') or default_entity_type) | string,
    } -%}
    {%- if not modules.re.match('^[A-Za-z0-9_.-]+$', rule['entity_type']) -%}
        {{ exceptions.raise_compiler_error("var 'events." ~ event_type ~ ".entity_type' must be a plain name, got '" ~ rule['entity_type'] ~ "'") }}
    {%- endif -%}
    {%- for name, kind in parameters.items() -%}
        {%- set value = settings.get(name) -%}
        {%- set pattern = '^[0-9]+$' if kind == 'int' else '^[0-9]+([.][0-9]+)?$' -%}
        {%- if rule['enabled'] and (value is none or value is sameas true or value is sameas false
                or not modules.re.match(pattern, value | string)) -%}
            {{ exceptions.raise_compiler_error("var 'events." ~ event_type ~ "." ~ name ~ "' must be a non-negative "
                ~ ("whole number" if kind == 'int' else "number") ~ ", got '" ~ value ~ "'") }}
        {%- endif -%}
        {%- do rule.update({name: (value | int) if kind == 'int' else (value | float)}) -%}
    {%- endfor -%}
    {{ return(rule) }}
{%- endmacro %}

{% macro event_id(event_type, entity_type, entity_id_expression) -%}
    {#- Stable event id: md5 hex of 'company|event_type|entity_type|entity_id'. -#}
    {{ dbt.hash(dbt.concat([
        sql_string(company() ~ '|' ~ event_type ~ '|' ~ entity_type ~ '|'),
        'cast(' ~ entity_id_expression ~ ' as ' ~ dbt.type_string() ~ ')',
    ])) }}
{%- endmacro %}
