{#
    Rank of a row among the versions of its entity: 1 is the latest one. Latest means the highest
    updated_at; ties go to the later ingest (_ingested_at, then _ingest_run_id, then _source_line).
    Exact duplicate rows share one rank-1 slot, so keeping rank 1 also drops them.
#}
{% macro latest_version_rank(key) -%}
    row_number() over (
        partition by {{ key }}
        order by
            updated_at desc nulls last,
            _ingested_at desc nulls last,
            _ingest_run_id desc nulls last,
            _source_line desc nulls last
    )
{%- endmacro %}
