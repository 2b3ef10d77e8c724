/* libFuzzer target: a .pth checkpoint (zip or legacy container, restricted pickle machine),
 * through yl_fuzz_weights. */
#include "fuzz_entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yl_fuzz_weights(data, size);
    return 0;
}
