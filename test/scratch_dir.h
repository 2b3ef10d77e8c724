/* A check's scratch folder under /tmp: scratch_open makes a fresh one (mkdtemp), scratch_close
 * removes it with everything in it; scratch_path names a file in it (the last four names stay
 * valid). One folder at a time in a process, as Check runs a tcase's fixtures per test. */
#ifndef YL_TEST_SCRATCH_DIR_H
#define YL_TEST_SCRATCH_DIR_H

void scratch_open(const char *prefix);
void scratch_close(void);
const char *scratch_dir(void);
const char *scratch_path(const char *name);

#endif
