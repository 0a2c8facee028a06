/*
 * The name <-> enum lookup of the outcomes, made from mam_outcomes.def.
 */
#include <string.h>

#include "mam_outcome.h"


static const struct {
    const char  *name;
    size_t       len;
} mam_outcome_names[MAM_OUTCOME_COUNT] = {
    { "(none)", 0 },
#define MAM_OUTCOME(id, name)  { name, sizeof(name) - 1 },
#include "mam_outcomes.def"
#undef MAM_OUTCOME
};


/* a linear search: about thirty short names, compared by length first, is
 * less work than hashing the name */
mam_outcome_t
mam_outcome_of(const char *name, size_t len)
{
    size_t  i;

    if (name == NULL) {
        return MAM_OUTCOME_NONE;
    }

    for (i = 1; i < MAM_OUTCOME_COUNT; i++) {
        if (mam_outcome_names[i].len == len
            && memcmp(mam_outcome_names[i].name, name, len) == 0)
        {
            return (mam_outcome_t) i;
        }
    }

    return MAM_OUTCOME_NONE;
}


const char *
mam_outcome_name(mam_outcome_t o)
{
    if ((size_t) o >= MAM_OUTCOME_COUNT) {
        return mam_outcome_names[MAM_OUTCOME_NONE].name;
    }

    return mam_outcome_names[o].name;
}
