// Reports what early_lib.c's constructor got: "early: result=<r> errno=<EPERM|n>".
#include <errno.h>
#include <stdio.h>

extern int early_result;
extern int early_errno;

int main(void) {
    if (early_errno == EPERM) printf("early: result=%d errno=EPERM\n", early_result);
    else printf("early: result=%d errno=%d\n", early_result, early_errno);
    return early_result == 0 ? 0 : early_errno == EPERM ? 42 : 43;
}
