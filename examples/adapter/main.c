/*
 * csv_sync - register the CSV adapter at run time, sync a phone list into a
 * tsps store and show what came of it.
 *
 *   csv_sync <phones.csv> <store-dir>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmsb/cmsb.h>

#include "csv_adapter.h"

static void log_line(void *arg, int level, const char *msg)
{
    (void)arg;
    fprintf(stderr, "log level=%d %s\n", level, msg);
}

static int show(void *arg, const tsps_contact *c)
{
    (void)arg;
    printf("contact uid=%s name=\"%s\" number=%s code=%s source=%s\n", c->uid,
           c->name, c->nnumbers ? c->numbers[0] : "", c->code,
           tsps_code_source_name(c->code_source));
    return 0;
}

int main(int argc, char **argv)
{
    cmsb_registry *reg = NULL;
    cmsb_source *src = NULL;
    tsps_engine *eng = NULL;
    tsps_config cfg = TSPS_CONFIG_INIT;
    cmsb_options opt = CMSB_OPTIONS_INIT;
    cmsb_sync_stats st;
    tsps_user u;
    char uri[1100];
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: %s <phones.csv> <store-dir>\n", argv[0]);
        return 2;
    }
    rc = cmsb_registry_open(&reg);
    if (rc == CMSB_OK)
        rc = cmsb_register(reg, &csv_phone_list_adapter);
    if (rc != CMSB_OK) {
        fprintf(stderr, "register: %s\n", cmsb_strerror(rc));
        return 1;
    }
    printf("registered scheme=%s (cmsb %s)\n", csv_phone_list_adapter.scheme,
           cmsb_version());

    cfg.path = argv[2];
    cfg.flags = TSPS_OPEN_NOSYNC;
    if (tsps_engine_open(&cfg, &eng) != TSPS_OK) {
        fprintf(stderr, "cannot open store %s\n", argv[2]);
        return 1;
    }
    tsps_user_init(&u);
    snprintf(u.id, sizeof(u.id), "demo");
    snprintf(u.dialplan.region, sizeof(u.dialplan.region), "DE");
    rc = tsps_user_put(eng, &u);
    if (rc != TSPS_OK) {
        fprintf(stderr, "user: %s\n", tsps_strerror(rc));
        return 1;
    }

    snprintf(uri, sizeof(uri), "csv:%s", argv[1]);
    opt.log = log_line;
    rc = cmsb_source_open(reg, uri, &opt, &src);
    if (rc != CMSB_OK) {
        fprintf(stderr, "open %s: %s\n", uri, cmsb_strerror(rc));
        return 1;
    }
    rc = cmsb_sync(src, eng, "demo", "phones", 0, &st);
    printf("sync rc=%s full=%d contacts_put=%llu errors=%llu batches=%llu\n",
           cmsb_errname(rc), st.full, (unsigned long long)st.contacts_put,
           (unsigned long long)st.errors, (unsigned long long)st.batches);
    if (rc == CMSB_OK)
        rc = tsps_contact_list(eng, "demo", NULL, show, NULL) == TSPS_OK
                 ? CMSB_OK
                 : CMSB_ESTORE;

    cmsb_source_close(src);
    tsps_engine_close(eng);
    cmsb_registry_close(reg);
    return rc == CMSB_OK ? 0 : 1;
}
