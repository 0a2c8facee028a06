-- 015: the outcomes of the SQL functions are one type.  The names are
-- defined once, in libmam/mam_outcomes.def, which the module's enum is also
-- made from; schema/migrate makes this domain's CHECK (mam_outcome_names)
-- from that list on every run.  Functions build their answer's outcome as
-- 'name'::mam_outcome, so a name not in the list fails when the function
-- runs instead of reaching the module as an outcome it cannot map.
CREATE DOMAIN mam_outcome AS text;
