/* Embedding libtsps: open a store, provision a user with a number, a few
 * contacts tagged with handling codes and the rules for those codes, then
 * route the numbers given on the command line and print each decision with
 * its trace as JSON (one object per line).
 *
 *   tsps_embed [--store DIR] [--at UNIX_TIME] CALLER [CALLER...]
 *
 * The user "alice" (Berlin) answers on +49 30 1234567. Try:
 *   tsps_embed "+49 89 111111" "030 2222222" anonymous "+1 202 555 0143"
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tsps/tsps.h>

static int check(int rc, const char *what)
{
    if (rc != TSPS_OK)
        fprintf(stderr, "embed: %s: %s\n", what, tsps_strerror(rc));
    return rc;
}

static int rule(tsps_engine *eng, const char *code, tsps_status st,
                const char *spec)
{
    tsps_method m;
    char err[128];
    if (tsps_method_parse(spec, &m, err, sizeof(err)) != TSPS_OK) {
        fprintf(stderr, "embed: bad method '%s': %s\n", spec, err);
        return TSPS_EINVAL;
    }
    return check(tsps_code_set(eng, "alice", code, st, &m), "code_set");
}

static int contact(tsps_engine *eng, const char *uid, const char *name,
                   const char *code, const char *number)
{
    tsps_contact c;
    tsps_contact_init(&c);
    snprintf(c.uid, sizeof(c.uid), "%s", uid);
    snprintf(c.name, sizeof(c.name), "%s", name);
    snprintf(c.code, sizeof(c.code), "%s", code);
    c.code_source = TSPS_CODE_SRC_MANUAL;
    snprintf(c.numbers[0], sizeof(c.numbers[0]), "%s", number);
    c.nnumbers = 1;
    return check(tsps_contact_put(eng, "alice", &c), "contact_put");
}

static int provision(tsps_engine *eng)
{
    tsps_user u;
    tsps_registration r;

    tsps_user_init(&u);
    strcpy(u.id, "alice");
    strcpy(u.display_name, "Alice Example");
    strcpy(u.dialplan.region, "DE");
    strcpy(u.tz, "Europe/Berlin");
    strcpy(u.voicemail_uri, "sip:vm-alice@pbx.example");
    u.flags |= TSPS_USER_NO_HOURS; /* the demo answers at any hour */
    if (check(tsps_user_put(eng, &u), "user_put") != TSPS_OK)
        return -1;
    if (check(tsps_number_add(eng, "alice", "+49 30 1234567"), "number_add") !=
        TSPS_OK)
        return -1;
    tsps_registration_init(&r);
    strcpy(r.contact, "sip:alice@192.0.2.10:5060");
    strcpy(r.label, "desk");
    r.expires = (int64_t)time(NULL) + 365 * 86400;
    if (check(tsps_registration_put(eng, "alice", &r), "registration_put") !=
        TSPS_OK)
        return -1;
    if (contact(eng, "vip-1", "Victor Important", "VIP", "+49 89 111111") ||
        contact(eng, "mum", "Mum", "FAMILY", "030 2222222") ||
        contact(eng, "spam", "Spam Caller", "BLOCK", "+44 20 7946 0000"))
        return -1;
    if (rule(eng, "VIP", TSPS_STATUS_ANY, "ring") ||
        rule(eng, "FAMILY", TSPS_STATUS_ANY, "ring then voicemail") ||
        rule(eng, "BLOCK", TSPS_STATUS_ANY, "reject decline") ||
        rule(eng, "UNKNOWN", TSPS_STATUS_ANY,
             "ask timeout=20 then voicemail") ||
        rule(eng, "WITHHELD", TSPS_STATUS_ANY, "voicemail"))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    tsps_config cfg = TSPS_CONFIG_INIT;
    tsps_engine *eng = NULL;
    char tmp[] = "/tmp/tsps-embed-XXXXXX";
    const char *store = NULL;
    int64_t at = 0;
    int i = 1, rc = 1;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            break;
        if (strcmp(argv[i], "--store") == 0)
            store = argv[i + 1];
        else if (strcmp(argv[i], "--at") == 0)
            at = strtoll(argv[i + 1], NULL, 10);
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [--store DIR] [--at UNIX_TIME] CALLER...\n",
                argv[0]);
        return 2;
    }
    if (store == NULL) {
        store = mkdtemp(tmp);
        if (store == NULL)
            return 1;
    }
    cfg.path = store;
    if (check(tsps_engine_open(&cfg, &eng), "engine_open") != TSPS_OK)
        return 1;
    if (provision(eng) != 0)
        goto out;
    for (; i < argc; i++) {
        tsps_call call = TSPS_CALL_INIT;
        tsps_decision d;
        char json[16384];
        call.called = "+49 30 1234567";
        call.caller = argv[i];
        call.now = at;
        if (check(tsps_route(eng, &call, &d), "route") != TSPS_OK ||
            check(tsps_decision_json(&d, json, sizeof(json), NULL),
                  "decision_json") != TSPS_OK)
            goto out;
        printf("%s\n", json);
    }
    rc = 0;
out:
    tsps_engine_close(eng);
    return rc;
}
