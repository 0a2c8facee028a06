-- 010: bounded lists (issue 15).  Comments are listed a page at a time in
-- keyset order, and a search is refused beyond 8 words, so one request
-- reads at most one page and expands into at most 8 prefix scans.

-- the keyset order of comments, id last so that it is total (the seed's
-- index under its name, one column longer)
DROP INDEX idx_comments_asset_id;
CREATE INDEX idx_comments_asset_id
    ON comments (asset_id, timestamp_sec, created_at, id);

-- GET /api/assets/:id/comments: up to p_limit + 1 rows (the module answers
-- p_limit and makes a cursor when one more exists), each {comment, key}.
-- p_after ("timestamp_sec created_at") and p_after_id come from a cursor
-- the module issued and verified; without one, (-1, -infinity, nil) is
-- before every comment (timestamp_sec >= 0), so the same statement, an
-- index range scan, serves the first page and the next ones.
DROP FUNCTION mam_comment_list(uuid);
CREATE FUNCTION mam_comment_list(p_asset uuid, p_limit integer,
                                 p_after text, p_after_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM assets
                          WHERE id = p_asset AND deleted_at IS NULL)
        THEN jsonb_build_object('outcome', 'not_found')
        ELSE jsonb_build_object('outcome', 'ok', 'rows', coalesce(
            (SELECT jsonb_agg(jsonb_build_object(
                        'comment', mam_comment_json(c),
                        'key', c.timestamp_sec::text || ' '
                               || to_char(c.created_at AT TIME ZONE 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                    ORDER BY c.timestamp_sec, c.created_at, c.id)
               FROM (SELECT * FROM comments c
                      WHERE c.asset_id = p_asset
                        AND (c.timestamp_sec, c.created_at, c.id)
                            > (coalesce(split_part(p_after, ' ', 1)::numeric,
                                        -1),
                               coalesce(split_part(p_after, ' ', 2)
                                            ::timestamptz, '-infinity'),
                               coalesce(p_after_id,
                                 '00000000-0000-0000-0000-000000000000'))
                      ORDER BY c.timestamp_sec, c.created_at, c.id
                      LIMIT p_limit + 1) c), '[]'::jsonb))
    END
$$;

-- the words of q, as mam_tsquery() splits them
CREATE FUNCTION mam_query_words(p_q text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT count(*)::integer
      FROM regexp_split_to_table(lower(coalesce(p_q, '')), '[^[:alnum:]]+') w
     WHERE w <> ''
$$;

-- GET /api/assets as in 003, refusing (outcome too_many_words) a q of more
-- than 8 words before any search runs
CREATE OR REPLACE FUNCTION mam_asset_list(p_q text, p_sort text,
                                          p_limit integer,
                                          p_after_value text,
                                          p_after_id uuid)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_query  tsquery;
    v_key    text;
    v_cmp    text;
    v_order  text;
    v_sql    text;
    v_rows   jsonb;
BEGIN
    IF mam_query_words(p_q) > 8 THEN
        RETURN jsonb_build_object('outcome', 'too_many_words', 'max', 8);
    END IF;
    v_query := mam_tsquery(p_q);

    IF p_sort = 'title' THEN
        v_key := 'a.title';
        v_cmp := '(a.title, a.id) > ($3, $4)';
        v_order := 'a.title, a.id';
    ELSIF p_sort = 'created_at' THEN
        v_key := 'a.created_at';
        v_cmp := '(a.created_at, a.id) > ($3::timestamptz, $4)';
        v_order := 'a.created_at, a.id';
    ELSE
        v_key := 'a.created_at';
        v_cmp := '(a.created_at, a.id) < ($3::timestamptz, $4)';
        v_order := 'a.created_at DESC, a.id DESC';
    END IF;

    v_sql := 'SELECT coalesce(jsonb_agg(jsonb_build_object('
          || '''asset'', mam_asset_json(a), ''key'', '
          || CASE WHEN p_sort = 'title' THEN 'a.title'
                  ELSE 'to_char(a.created_at AT TIME ZONE ''UTC'', '
                       '''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'')' END
          || ') ORDER BY ' || v_order || '), ''[]'') FROM ('
          || 'SELECT a.* FROM assets a WHERE a.deleted_at IS NULL'
          || CASE WHEN v_query IS NOT NULL THEN ' AND a.search @@ $1' ELSE '' END
          || CASE WHEN p_after_id IS NOT NULL THEN ' AND ' || v_cmp ELSE '' END
          || ' ORDER BY ' || v_order || ' LIMIT $2) a';

    EXECUTE v_sql INTO v_rows USING v_query, p_limit + 1, p_after_value,
                                    p_after_id;
    RETURN jsonb_build_object('outcome', 'ok', 'rows', v_rows);
END
$$;
