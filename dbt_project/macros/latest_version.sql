{#
    Rank of a row among the versions of its entity: 1 is the latest one. Latest means the highest
    updated_at; ties go to the later ingest (_ingested_at, then _ingest_run_id, then _source_line,
    then _source_file), a total order: the same rows give the same winner in any build order.
    Exact duplicate rows share one rank-1 slot, so keeping rank 1 also drops them.
#}
{% macro latest_version_rank(key) -%}
    row_number() over (
        partition by {{ key }}
        order by
            updated_at desc nulls last,
            _ingested_at desc nulls last,
            _ingest_run_id desc nulls last,
            _source_line desc nulls last,
            _source_file desc nulls last
    )
{%- endmacro %}

{#
    The latest version of each entity of `source` (a staging model), as the `columns` listed.

    In a full build `source` holds every version and this is a plain latest-per-key. In an incremental
    build (an `incremental` model whose table already exists: `lakehouse build` seeds it with the
    previous silver version) `source` holds only the versions of the new bronze files; the kept rows of
    the keys they touch compete again, so the result is what a full build gives: a maximum over a
    union is the maximum of the maxima. With `unique_key` and the `delete+insert` strategy, dbt then
    replaces exactly those keys' rows in the table; every other row stays as it was.
#}
{% macro latest_per_key(source, key, columns) -%}
with

new_versions as (

    select
        {{ columns | join(',\n        ') }}
    from {{ source }}

),

candidates as (

    select * from new_versions
    {%- if is_incremental() %}

    union all

    select
        {{ columns | join(',\n        ') }}
    from {{ this }}
    where {{ key }} in (select {{ key }} from new_versions)
    {%- endif %}

),

versions as (

    select
        *,
        {{ latest_version_rank(key) }} as _version_rank
    from candidates

),

final as (

    select
        {{ columns | join(',\n        ') }}
    from versions
    where _version_rank = 1

)

select * from final
{%- endmacro %}
