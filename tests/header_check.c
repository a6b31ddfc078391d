/* Build-only check: the public header compiles on its own as strict C11. */
#include "doubt.h"

int doubt_header_check(void);

int doubt_header_check(void)
{
    return DOUBT_OK;
}
