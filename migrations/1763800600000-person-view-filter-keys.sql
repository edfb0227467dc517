-- Read path (issue 5/6): the list's filters must match only what the viewer may see, per agency
-- and category (docs/access.md). The columns of person_view say what a person has, not who
-- contributed it, so a policy-safe filter could only be decided row by row in the API after
-- reading every candidate's state. filter_keys adds, per person, which agency contributed each
-- open need and open custody episode, and what each unrevoked consent grants to whom, so SQL
-- can narrow to a close superset of what the policy will then allow (the API still decides
-- every row). Keys:
--   need|<agency>|<category>     an open need recorded by <agency>
--   custody|<agency>             an open custody episode recorded by <agency>
--   grant|<partner>              an unrevoked consent names <partner> ('*' = coalition-wide)
--   grant|<partner>|general      ... with the general scope (no category list)
--   grant|<partner>|<category>   ... naming <category> explicitly
-- Expiry is not in the keys (it depends on the clock): readers check person_consent for that.
-- A generated column, so every writer of person_view (projection, rebuild, bench loads) keeps it
-- right without knowing about it.

CREATE FUNCTION person_view_filter_keys(p_state jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}'::text[]) FROM (
    SELECT 'need|' || (n ->> 'agency') || '|' || (n ->> 'category') AS k
      FROM jsonb_array_elements(coalesce(p_state -> 'needs', '[]'::jsonb)) n
     WHERE coalesce(n ->> 'closedAt', '') = ''
    UNION ALL
    SELECT 'custody|' || (c ->> 'agency')
      FROM jsonb_array_elements(coalesce(p_state -> 'custody', '[]'::jsonb)) c
     WHERE coalesce(c ->> 'releasedAt', '') = ''
    UNION ALL
    SELECT 'grant|' || p.partner || g.suffix
      FROM jsonb_array_elements(coalesce(p_state -> 'consents', '[]'::jsonb)) s
     CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(s -> 'partners', '[]'::jsonb)) AS p(partner)
     CROSS JOIN LATERAL (
       SELECT '' AS suffix
       UNION ALL
       SELECT '|general' WHERE jsonb_typeof(s -> 'categories') IS DISTINCT FROM 'array'
       UNION ALL
       SELECT '|' || cat FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(s -> 'categories') = 'array' THEN s -> 'categories' ELSE '[]'::jsonb END) AS x(cat)
     ) g
     WHERE coalesce(s ->> 'revokedAt', '') = ''
  ) keys
$$;

ALTER TABLE person_view ADD COLUMN filter_keys text[] GENERATED ALWAYS AS (person_view_filter_keys(state)) STORED;
CREATE INDEX person_view_filter_keys_idx ON person_view USING gin (filter_keys);
