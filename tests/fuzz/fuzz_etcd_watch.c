/*
 * fuzz_etcd_watch.c - the parser of etcd's watch stream messages
 * (tspsd/cluster/etcd.h): every byte a node reads from etcd goes through
 * it. Any input must give a result code, never a crash; an accepted event
 * has a non-empty key without NUL, and a value only when it is a PUT.
 */
#include "etcd.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(void *arg, int type, const char *key, size_t klen,
                 const void *val, size_t vlen, int64_t rev)
{
    (void)arg;
    if (klen == 0 || key[klen] != '\0' || memchr(key, '\0', klen) != NULL)
        __builtin_trap();
    if (type == TSPSD_ETCD_PUT ? val == NULL : (val != NULL || vlen != 0))
        __builtin_trap();
    if (type != TSPSD_ETCD_PUT && type != TSPSD_ETCD_DELETE)
        __builtin_trap();
    if (rev < 0)
        __builtin_trap();
    if (vlen > 0) /* readable */
        (void)((const volatile char *)val)[vlen - 1];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tspsd_etcd_watch_msg msg;
    int rc =
        tspsd_etcd_watch_parse((const char *)data, size, check, NULL, &msg);
    if (rc != TSPSD_ETCD_OK && rc != TSPSD_ETCD_EPROTO &&
        rc != TSPSD_ETCD_ESERVER && rc != TSPSD_ETCD_ECOMPACTED)
        __builtin_trap();
    if (strnlen(msg.error, sizeof(msg.error)) == sizeof(msg.error))
        __builtin_trap();
    return 0;
}
