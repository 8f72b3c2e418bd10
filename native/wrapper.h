/* The C APIs the native module binds (bindgen input, see build.rs). */
#include <ucp/api/ucp.h>
#include <libpmem2.h>
