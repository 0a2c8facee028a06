-- 012: retention.  Housekeeping deletes refresh-token sessions expired for
-- more than mam_session_retention and audit rows older than
-- mam_audit_retention.  Each call deletes one bounded batch in its own
-- statement (its own transaction): it locks at most p_batch rows, never
-- waits for a row another transaction holds, and the module calls again
-- while a batch came back full (schema/functions/housekeeping.sql).

-- expired sessions are found through expires_at; audit rows through
-- audit_log_at_idx (001)
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
