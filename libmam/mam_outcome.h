/*
 * The outcomes of the SQL functions as an enum, from the one list of
 * their names (mam_outcomes.def, which schema/migrate also reads).  The
 * module maps an answer's "outcome" to the enum once, then compares
 * numbers: a misspelt outcome in C does not compile.
 */
#ifndef MAM_OUTCOME_H
#define MAM_OUTCOME_H

#include <stddef.h>

typedef enum {
    MAM_OUTCOME_NONE = 0,       /* no outcome, or a name not in the list */
#define MAM_OUTCOME(id, name)  MAM_OUTCOME_ ## id,
#include "mam_outcomes.def"
#undef MAM_OUTCOME
    MAM_OUTCOME_COUNT
} mam_outcome_t;

/* the outcome named name (len bytes, no NUL needed); MAM_OUTCOME_NONE for
 * NULL or a name not in the list */
mam_outcome_t mam_outcome_of(const char *name, size_t len);

/* the name of o; "(none)" for MAM_OUTCOME_NONE or a value out of range */
const char *mam_outcome_name(mam_outcome_t o);

#endif
