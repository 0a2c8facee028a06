/* libmam outcomes: the enum and the name lookup made from
 * mam_outcomes.def agree both ways; a name not in the list is none. */
#include <string.h>

#include "mam_outcome.h"
#include "tap.h"

int
main(void)
{
    int          i, round_trip;
    const char  *name;

    round_trip = 1;
    for (i = 1; i < MAM_OUTCOME_COUNT; i++) {
        name = mam_outcome_name((mam_outcome_t) i);
        if (mam_outcome_of(name, strlen(name)) != (mam_outcome_t) i) {
            round_trip = 0;
        }
    }
    ok(round_trip, "each of the %d outcomes is found by its name",
       MAM_OUTCOME_COUNT - 1);

    ok(mam_outcome_of("ok", 2) == MAM_OUTCOME_OK, "\"ok\" is MAM_OUTCOME_OK");
    ok(mam_outcome_of("not_found", 9) == MAM_OUTCOME_NOT_FOUND,
       "\"not_found\" is MAM_OUTCOME_NOT_FOUND");
    ok(mam_outcome_of("not_foundx", 9) == MAM_OUTCOME_NOT_FOUND,
       "only len bytes of the name count");
    ok(mam_outcome_of("not_foun", 8) == MAM_OUTCOME_NONE,
       "a prefix of a name is none");
    ok(mam_outcome_of("no_such_outcome", 15) == MAM_OUTCOME_NONE,
       "a name not in the list is none");
    ok(mam_outcome_of("", 0) == MAM_OUTCOME_NONE, "an empty name is none");
    ok(mam_outcome_of(NULL, 0) == MAM_OUTCOME_NONE, "no name is none");
    ok(strcmp(mam_outcome_name(MAM_OUTCOME_NONE), "(none)") == 0,
       "none's name is (none)");
    ok(strcmp(mam_outcome_name(MAM_OUTCOME_COUNT), "(none)") == 0,
       "a value out of range is (none)");
    ok(strcmp(mam_outcome_name(MAM_OUTCOME_UNKNOWN), "unknown") == 0,
       "MAM_OUTCOME_UNKNOWN is the outcome \"unknown\", not none");

    return done_testing();
}
