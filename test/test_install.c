/* `make install` gives a usable tree: the README's API example builds against it with
 * pkg-config (shared and --static) and runs (test/install_check.sh does the work). */
#include <stdlib.h>

#include "yl_test.h"

START_TEST(install_and_build_readme_example)
{
    int rc = system("sh test/install_check.sh");
    ck_assert_msg(rc == 0, "test/install_check.sh failed (status %d)", rc);
}
END_TEST

Suite *install_suite(void)
{
    Suite *s = suite_create("install");
    TCase *tc = tcase_create("install");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, install_and_build_readme_example);
    suite_add_tcase(s, tc);
    return s;
}
