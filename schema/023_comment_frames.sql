-- 023: comments stored with a frame number as well as seconds (issue 20).
-- `frame` is the frame the reviewer saw, counted from 0 at the version's
-- frame rate; NULL when the client sent none (audio, a rate not known yet,
-- an older client): the server never derives one, since seconds to the
-- millisecond and a rate rounded to 1/1000 can name the neighbouring frame.
-- Bounded like timestamp_sec (numeric(12, 3): at most 999999999).
ALTER TABLE comments ADD COLUMN frame integer
    CONSTRAINT comments_frame_range CHECK (frame BETWEEN 0 AND 999999999);

-- mam_comment_create (schema/functions/comments.sql) takes the frame: its
-- old signature goes rather than stay as an overload.
DROP FUNCTION IF EXISTS mam_comment_create(uuid, uuid, boolean, numeric, text,
                                           uuid, text);

-- Every comment's item gains `frame` and `version_number`: the items are
-- emptied here with the triggers off (the functions of the previous run
-- would write the old shape again), and items.sql's last statements
-- rebuild every NULL item with the new functions.
ALTER TABLE comments DISABLE TRIGGER USER;
UPDATE comments SET item = NULL;
ALTER TABLE comments ENABLE TRIGGER USER;
