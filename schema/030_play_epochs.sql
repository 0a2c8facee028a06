-- 030: revocation reaches playback (issue 22).  A playback URL carries its
-- asset's play epoch as signed when it was minted (libmam/mam_edge.h); the
-- epoch goes up when the asset is deleted or moved to another project, or
-- a member leaves its project, and the edge refuses a URL whose epoch is
-- below the current one (README, Revocation).  play_signed_at: about when
-- a URL was last signed for the asset (kept to the minute), so a member's
-- removal bumps only the assets whose URLs can still be playing.  (027-029
-- are other issues'.)
ALTER TABLE assets
    ADD COLUMN play_epoch integer NOT NULL DEFAULT 0
        CONSTRAINT assets_play_epoch_range
        CHECK (play_epoch BETWEEN 0 AND 999999999),
    ADD COLUMN play_signed_at timestamptz,
    ADD COLUMN play_epoch_at timestamptz;

CREATE INDEX assets_play_signed_idx ON assets (project_id, play_signed_at)
    WHERE play_signed_at IS NOT NULL;
-- play_epoch_at: when the epoch last went up; worker 0 publishes the
-- epochs of the last hour again and again (a Redis that lost its data
-- learns them back)
CREATE INDEX assets_play_epoch_at_idx ON assets (play_epoch_at)
    WHERE play_epoch_at IS NOT NULL;
