/* tspsctl_cmds.c - one function per subcommand: arguments -> request. */
#include "tspsctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const flags[] = {"--live",   "--monitor", "--act",
                                    "--remove", "--related", "--missed",
                                    "--undo",   "--local",   NULL};

int ctl_args_parse(int argc, char **argv, ctl_args *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (strncmp(s, "--", 2) == 0 && s[2] != '\0') {
            int is_flag = 0;
            for (int f = 0; flags[f] != NULL; f++)
                if (strcmp(s, flags[f]) == 0)
                    is_flag = 1;
            if (out->nopt >= CTL_MAX_OPTS) {
                snprintf(err, errlen, "too many options");
                return -1;
            }
            out->key[out->nopt] = s;
            if (!is_flag) {
                if (i + 1 >= argc) {
                    snprintf(err, errlen, "%s needs a value", s);
                    return -1;
                }
                out->val[out->nopt] = argv[++i];
            }
            out->nopt++;
        } else {
            if (out->npos >= CTL_MAX_POS) {
                snprintf(err, errlen, "too many arguments");
                return -1;
            }
            out->pos[out->npos++] = s;
        }
    }
    return 0;
}

const char *ctl_opt(const ctl_args *a, const char *key)
{
    for (int i = a->nopt - 1; i >= 0; i--)
        if (strcmp(a->key[i], key) == 0 && a->val[i] != NULL)
            return a->val[i];
    return NULL;
}

int ctl_flag(const ctl_args *a, const char *key)
{
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->key[i], key) == 0)
            return 1;
    return 0;
}

int ctl_opt_all(const ctl_args *a, const char *key, const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < a->nopt && n < max; i++)
        if (strcmp(a->key[i], key) == 0 && a->val[i] != NULL)
            out[n++] = a->val[i];
    return n;
}

int ctl_parse_time(const char *s, int64_t *out)
{
    char *end;
    struct tm tm;

    if (strcmp(s, "now") == 0) {
        *out = (int64_t)time(NULL);
        return 0;
    }
    if (s[0] == '+') {
        long n = strtol(s + 1, &end, 10);
        long mul = *end == 's' || *end == '\0' ? 1
                   : *end == 'm'               ? 60
                   : *end == 'h'               ? 3600
                   : *end == 'd'               ? 86400
                                               : -1;
        if (mul < 0 || end == s + 1 || (*end != '\0' && end[1] != '\0'))
            return -1;
        *out = (int64_t)time(NULL) + n * mul;
        return 0;
    }
    long long v = strtoll(s, &end, 10);
    if (*s != '\0' && *end == '\0') {
        *out = v;
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        end = strptime(s, "%Y-%m-%d %H:%M", &tm);
    if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static int usage_err(const char *msg)
{
    fprintf(stderr, "tspsctl: %s (see tspsctl --help)\n", msg);
    return EX_USAGE_;
}

/* Send, print, map the result to an exit code. */
static int exec(ctl_ctx *ctx, Tsps__Request *req, const char *cmd)
{
    Tsps__Response *resp = NULL;
    char err[300];
    int rc = ctl_connect(ctx);

    if (rc != EX_OK_)
        return rc;
    rc = tspsd_client_call(ctx->cli, req, &resp, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "tspsctl: %s\n", err);
        return EX_CONN;
    }
    if (ctx->json)
        ctl_print_json(resp);
    else if (resp->code == TSPS__CODE__OK)
        ctl_print_table(resp, cmd);
    if (resp->code != TSPS__CODE__OK && !ctx->json)
        fprintf(stderr, "tspsctl: %s\n", resp->error);
    rc = ctl_exit_code(resp->code);
    tsps__response__free_unpacked(resp, NULL);
    return rc;
}

#define REQ(kind, field, type, init)                                           \
    Tsps__Request req = TSPS__REQUEST__INIT;                                   \
    type body = init;                                                          \
    req.body_case = TSPS__REQUEST__BODY_##kind;                                \
    req.field = &body

#define STRARG(x) ((char *)(x))

static int cmd_whoami(ctl_ctx *ctx, ctl_args *a)
{
    int rc = ctl_connect(ctx);
    (void)a;
    if (rc != EX_OK_)
        return rc;
    const Tsps__HelloReply *h = tspsd_client_hello(ctx->cli);
    if (ctx->json)
        printf("{\"identity\":\"%s\",\"role\":\"%s\",\"server\":\"%s\"}\n",
               h->identity, h->role, h->server);
    else
        printf("identity  %s\nrole      %s\nserver    %s\n",
               h->identity[0] ? h->identity : "(anonymous)", h->role,
               h->server);
    return EX_OK_;
}

static int cmd_route(ctl_ctx *ctx, ctl_args *a)
{
    REQ(ROUTE, route, Tsps__Route, TSPS__ROUTE__INIT);
    const char *at = ctl_opt(a, "--at");
    body.from = STRARG(ctl_opt(a, "--from") ? ctl_opt(a, "--from") : "");
    body.to = STRARG(ctl_opt(a, "--to"));
    if (body.to == NULL)
        return usage_err("route needs --to NUMBER");
    if (at != NULL && ctl_parse_time(at, &body.at) != 0)
        return usage_err("bad --at TIME");
    if (ctl_opt(a, "--name") != NULL)
        body.caller_name = STRARG(ctl_opt(a, "--name"));
    body.live = ctl_flag(a, "--live");
    return exec(ctx, &req, "route");
}

static int parse_id(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0)
        return -1;
    *out = v;
    return 0;
}

static int cmd_explain(ctl_ctx *ctx, ctl_args *a)
{
    REQ(EXPLAIN, explain, Tsps__Explain, TSPS__EXPLAIN__INIT);
    if (a->npos != 1 || parse_id(a->pos[0], &body.call_id) != 0)
        return usage_err("explain CALL (a call id)");
    return exec(ctx, &req, "explain");
}

static int cmd_history(ctl_ctx *ctx, ctl_args *a)
{
    REQ(HISTORY, history, Tsps__History, TSPS__HISTORY__INIT);
    const char *s;
    if (a->npos != 1)
        return usage_err("history USER");
    body.user = STRARG(a->pos[0]);
    if ((s = ctl_opt(a, "--limit")) != NULL)
        body.limit = (uint32_t)atoi(s);
    if ((s = ctl_opt(a, "--since")) != NULL && ctl_parse_time(s, &body.from))
        return usage_err("bad --since TIME");
    if ((s = ctl_opt(a, "--until")) != NULL && ctl_parse_time(s, &body.to))
        return usage_err("bad --until TIME");
    if ((s = ctl_opt(a, "--caller")) != NULL)
        body.caller = STRARG(s);
    if ((s = ctl_opt(a, "--outcome")) != NULL)
        body.outcome = STRARG(s);
    if (ctl_flag(a, "--missed")) {
        if (body.outcome[0] != '\0')
            return usage_err("--missed and --outcome: give one");
        body.outcome = (char *)"missed";
    }
    if ((s = ctl_opt(a, "--contact")) != NULL)
        body.contact = STRARG(s);
    if ((s = ctl_opt(a, "--code")) != NULL)
        body.code = STRARG(s);
    if ((s = ctl_opt(a, "--text")) != NULL)
        body.text = STRARG(s);
    char bid[24], bnode[64];
    if ((s = ctl_opt(a, "--before")) != NULL && strchr(s, '@') != NULL) {
        /* ID@NODE@START: a cursor across the nodes of a cluster, as the
         * previous page's last line says */
        const char *at1 = strchr(s, '@'), *at2 = strrchr(s, '@');
        char *end;
        if (at2 == at1 || (size_t)(at1 - s) >= sizeof(bid) ||
            (size_t)(at2 - at1 - 1) >= sizeof(bnode) || at2 == at1 + 1)
            return usage_err("bad --before ID@NODE@START");
        memcpy(bid, s, (size_t)(at1 - s));
        bid[at1 - s] = '\0';
        memcpy(bnode, at1 + 1, (size_t)(at2 - at1 - 1));
        bnode[at2 - at1 - 1] = '\0';
        body.before_start = strtoll(at2 + 1, &end, 10);
        if (parse_id(bid, &body.before_id) != 0 || *end != '\0' ||
            at2[1] == '\0')
            return usage_err("bad --before ID@NODE@START");
        body.before_node = bnode;
    } else if (s != NULL && parse_id(s, &body.before_id) != 0)
        return usage_err("bad --before ID (a call id)");
    if (ctl_flag(a, "--local"))
        body.local = 1;
    return exec(ctx, &req, "history");
}

static int cmd_calls(ctl_ctx *ctx, ctl_args *a)
{
    REQ(CALLS_LIVE, calls_live, Tsps__CallsLive, TSPS__CALLS_LIVE__INIT);
    if (a->npos > 1)
        return usage_err("calls [USER]");
    if (a->npos == 1)
        body.user = STRARG(a->pos[0]);
    return exec(ctx, &req, "calls");
}

static void join(const ctl_args *a, int from, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = from; i < a->npos; i++) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%s", i > from ? " " : "", a->pos[i]);
    }
}

static int cmd_act(ctl_ctx *ctx, ctl_args *a)
{
    REQ(CALL_ACT, call_act, Tsps__CallAct, TSPS__CALL_ACT__INIT);
    char action[512];
    if (a->npos < 2 || parse_id(a->pos[0], &body.call_id) != 0)
        return usage_err("act CALL ACTION");
    join(a, 1, action, sizeof(action));
    body.action = action;
    return exec(ctx, &req, "act");
}

static int cmd_watch(ctl_ctx *ctx, ctl_args *a)
{
    REQ(SUBSCRIBE, subscribe, Tsps__Subscribe, TSPS__SUBSCRIBE__INIT);
    Tsps__Response *resp = NULL;
    char err[300];
    int rc;

    if (a->npos > 1)
        return usage_err("watch [USER]");
    if (a->npos == 1)
        body.user = STRARG(a->pos[0]);
    rc = ctl_connect(ctx);
    if (rc != EX_OK_)
        return rc;
    rc = tspsd_client_call(ctx->cli, &req, &resp, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "tspsctl: %s\n", err);
        return EX_CONN;
    }
    if (resp->code != TSPS__CODE__OK) {
        fprintf(stderr, "tspsctl: %s\n", resp->error);
        rc = ctl_exit_code(resp->code);
        tsps__response__free_unpacked(resp, NULL);
        return rc;
    }
    tsps__response__free_unpacked(resp, NULL);
    if (!ctx->json)
        fprintf(stderr, "watching %s (Ctrl-C to stop)\n",
                body.user[0] ? body.user : "everything you may see");
    fflush(stderr);
    /* Events until the daemon goes away. Bounded by nothing on purpose:
     * watch runs until interrupted. */
    for (;;) {
        rc = tspsd_client_recv(ctx->cli, &resp, 24 * 3600 * 1000);
        if (rc != 0) {
            fprintf(stderr, "tspsctl: connection closed\n");
            return EX_CONN;
        }
        if (resp->event != NULL)
            ctl_print_event(resp, ctx->json);
        tsps__response__free_unpacked(resp, NULL);
        fflush(stdout);
    }
}

static int cmd_user(ctl_ctx *ctx, ctl_args *a)
{
    const char *sub = a->npos > 0 ? a->pos[0] : "";
    if (strcmp(sub, "add") == 0) {
        REQ(USER_PUT, user_put, Tsps__UserPut, TSPS__USER_PUT__INIT);
        Tsps__User u = TSPS__USER__INIT;
        const char *nums[8];
        if (a->npos != 2)
            return usage_err("user add ID [options]");
        u.id = STRARG(a->pos[1]);
#define O(field, key)                                                          \
    if (ctl_opt(a, key) != NULL)                                               \
    u.field = STRARG(ctl_opt(a, key))
        O(display_name, "--name");
        O(region, "--region");
        O(tz, "--tz");
        O(hours, "--hours");
        O(voicemail_uri, "--voicemail");
        O(attendant_uri, "--attendant");
#undef O
        u.n_numbers = (size_t)ctl_opt_all(a, "--number", nums, 8);
        u.numbers = (char **)nums;
        body.user = &u;
        return exec(ctx, &req, "user.add");
    }
    if (strcmp(sub, "show") == 0 && a->npos == 2) {
        REQ(USER_GET, user_get, Tsps__UserGet, TSPS__USER_GET__INIT);
        body.id = STRARG(a->pos[1]);
        return exec(ctx, &req, "user.show");
    }
    if (strcmp(sub, "list") == 0 && a->npos == 1) {
        REQ(USER_LIST, user_list, Tsps__UserList, TSPS__USER_LIST__INIT);
        return exec(ctx, &req, "user.list");
    }
    if (strcmp(sub, "delete") == 0 && a->npos == 2) {
        REQ(USER_DELETE, user_delete, Tsps__UserDelete,
            TSPS__USER_DELETE__INIT);
        body.id = STRARG(a->pos[1]);
        return exec(ctx, &req, "user.delete");
    }
    if (strcmp(sub, "login-link") == 0 && a->npos == 2) {
        REQ(LOGIN_LINK, login_link, Tsps__LoginLink, TSPS__LOGIN_LINK__INIT);
        body.user = STRARG(a->pos[1]);
        return exec(ctx, &req, "user.login-link");
    }
    if (strcmp(sub, "web-password") == 0 && (a->npos == 2 || a->npos == 3)) {
        REQ(WEB_PASSWORD, web_password, Tsps__WebPassword,
            TSPS__WEB_PASSWORD__INIT);
        body.user = STRARG(a->pos[1]);
        body.password = STRARG(a->npos == 3 ? a->pos[2] : "");
        return exec(ctx, &req, "user.web-password");
    }
    return usage_err("user add|show|list|delete|login-link|web-password");
}

static int cmd_number(ctl_ctx *ctx, ctl_args *a)
{
    if (a->npos == 3 && strcmp(a->pos[0], "add") == 0) {
        REQ(NUMBER_ADD, number_add, Tsps__NumberAdd, TSPS__NUMBER_ADD__INIT);
        body.user = STRARG(a->pos[1]);
        body.number = STRARG(a->pos[2]);
        return exec(ctx, &req, "number.add");
    }
    if (a->npos == 3 && strcmp(a->pos[0], "remove") == 0) {
        REQ(NUMBER_REMOVE, number_remove, Tsps__NumberRemove,
            TSPS__NUMBER_REMOVE__INIT);
        body.user = STRARG(a->pos[1]);
        body.number = STRARG(a->pos[2]);
        return exec(ctx, &req, "number.remove");
    }
    return usage_err("number add|remove USER NUMBER");
}

static int cmd_code(ctl_ctx *ctx, ctl_args *a)
{
    const char *sub = a->npos > 0 ? a->pos[0] : "";
    Tsps__Rule r = TSPS__RULE__INIT;
    char method[512];
    if (ctl_opt(a, "--status") != NULL)
        r.status = STRARG(ctl_opt(a, "--status"));
    if (strcmp(sub, "set") == 0 && a->npos >= 4) {
        REQ(CODE_SET, code_set, Tsps__CodeSet, TSPS__CODE_SET__INIT);
        r.user = STRARG(a->pos[1]);
        r.code = STRARG(a->pos[2]);
        join(a, 3, method, sizeof(method));
        r.method = method;
        body.rule = &r;
        return exec(ctx, &req, "code.set");
    }
    if (strcmp(sub, "delete") == 0 && a->npos == 3) {
        REQ(CODE_DELETE, code_delete, Tsps__CodeDelete,
            TSPS__CODE_DELETE__INIT);
        r.user = STRARG(a->pos[1]);
        r.code = STRARG(a->pos[2]);
        body.rule = &r;
        return exec(ctx, &req, "code.delete");
    }
    if (strcmp(sub, "list") == 0 && a->npos == 2) {
        REQ(CODE_LIST, code_list, Tsps__CodeList, TSPS__CODE_LIST__INIT);
        body.user = STRARG(a->pos[1]);
        return exec(ctx, &req, "code.list");
    }
    return usage_err("code set USER CODE METHOD | delete USER CODE | list "
                     "USER");
}

static int cmd_status(ctl_ctx *ctx, ctl_args *a)
{
    const char *s;
    if (a->npos == 3 && strcmp(a->pos[0], "set") == 0) {
        REQ(STATUS_SET, status_set, Tsps__StatusSet, TSPS__STATUS_SET__INIT);
        body.user = STRARG(a->pos[1]);
        body.status = STRARG(a->pos[2]);
        if ((s = ctl_opt(a, "--until")) != NULL &&
            ctl_parse_time(s, &body.until) != 0)
            return usage_err("bad --until TIME");
        if ((s = ctl_opt(a, "--note")) != NULL)
            body.note = STRARG(s);
        return exec(ctx, &req, "status.set");
    }
    if (a->npos == 2 && strcmp(a->pos[0], "get") == 0) {
        REQ(STATUS_GET, status_get, Tsps__StatusGet, TSPS__STATUS_GET__INIT);
        body.user = STRARG(a->pos[1]);
        if ((s = ctl_opt(a, "--at")) != NULL &&
            ctl_parse_time(s, &body.at) != 0)
            return usage_err("bad --at TIME");
        return exec(ctx, &req, "status.get");
    }
    return usage_err("status set USER STATUS | status get USER");
}

static int cmd_contact(ctl_ctx *ctx, ctl_args *a)
{
    const char *s;
    if (a->npos >= 2 && a->npos <= 3 && strcmp(a->pos[0], "list") == 0) {
        REQ(CONTACT_LIST, contact_list, Tsps__ContactList,
            TSPS__CONTACT_LIST__INIT);
        body.user = STRARG(a->pos[1]);
        if (a->npos == 3)
            body.query = STRARG(a->pos[2]);
        if ((s = ctl_opt(a, "--limit")) != NULL)
            body.limit = (uint32_t)atoi(s);
        return exec(ctx, &req, "contact.list");
    }
    if (a->npos == 4 && strcmp(a->pos[0], "code") == 0) {
        REQ(CONTACT_SET_CODE, contact_set_code, Tsps__ContactSetCode,
            TSPS__CONTACT_SET_CODE__INIT);
        body.user = STRARG(a->pos[1]);
        body.uid = STRARG(a->pos[2]);
        body.code = STRARG(a->pos[3]);
        return exec(ctx, &req, "contact.code");
    }
    if (a->npos == 2 && strcmp(a->pos[0], "add") == 0) {
        REQ(CONTACT_CREATE, contact_create, Tsps__ContactCreate,
            TSPS__CONTACT_CREATE__INIT);
        body.user = STRARG(a->pos[1]);
        if ((s = ctl_opt(a, "--number")) != NULL)
            body.number = STRARG(s);
        if ((s = ctl_opt(a, "--name")) != NULL)
            body.name = STRARG(s);
        if ((s = ctl_opt(a, "--email")) != NULL)
            body.email = STRARG(s);
        if ((s = ctl_opt(a, "--code")) != NULL)
            body.code = STRARG(s);
        if ((s = ctl_opt(a, "--source")) != NULL)
            body.source = STRARG(s);
        return exec(ctx, &req, "contact.create");
    }
    return usage_err("contact list USER [QUERY] | contact code USER UID CODE "
                     "| contact add USER --number N [--name NAME] [--email E] "
                     "[--code C] [--source S]");
}

static int cmd_source(ctl_ctx *ctx, ctl_args *a)
{
    const char *sub = a->npos > 0 ? a->pos[0] : "";
    if (strcmp(sub, "add") == 0 && a->npos == 3) {
        REQ(SOURCE_ADD, source_add, Tsps__SourceAdd, TSPS__SOURCE_ADD__INIT);
        Tsps__Source s = TSPS__SOURCE__INIT;
        const char *o[16];
        s.name = STRARG(a->pos[1]);
        s.uri = STRARG(a->pos[2]);
        s.user = STRARG(ctl_opt(a, "--user"));
        if (s.user == NULL)
            return usage_err("source add needs --user USER");
        const char *iv = ctl_opt(a, "--interval");
        if (iv != NULL) {
            char *end;
            long n = strtol(iv, &end, 10);
            if (*iv == '\0' || *end != '\0' || n < 0 || n > 7 * 86400)
                return usage_err("--interval: seconds, 0 .. 604800 (0 = only "
                                 "on demand)");
            s.interval_s = (uint32_t)n;
            s.on_demand = n == 0; /* as interval = 0 in the config file */
        }
        s.n_options = (size_t)ctl_opt_all(a, "--option", o, 16);
        s.options = (char **)o;
        body.source = &s;
        return exec(ctx, &req, "source.add");
    }
    if (strcmp(sub, "remove") == 0 && a->npos == 2) {
        REQ(SOURCE_REMOVE, source_remove, Tsps__SourceRemove,
            TSPS__SOURCE_REMOVE__INIT);
        body.name = STRARG(a->pos[1]);
        return exec(ctx, &req, "source.remove");
    }
    if (strcmp(sub, "list") == 0 && a->npos == 1) {
        REQ(SOURCE_LIST, source_list, Tsps__SourceList,
            TSPS__SOURCE_LIST__INIT);
        return exec(ctx, &req, "source.list");
    }
    if (strcmp(sub, "sync") == 0 && a->npos <= 2) {
        REQ(SOURCE_SYNC, source_sync, Tsps__SourceSync,
            TSPS__SOURCE_SYNC__INIT);
        if (a->npos == 2)
            body.name = STRARG(a->pos[1]);
        return exec(ctx, &req, "source.sync");
    }
    return usage_err("source add|remove|list|sync");
}

static int cmd_delegate(ctl_ctx *ctx, ctl_args *a)
{
    REQ(DELEGATE, delegate, Tsps__Delegate, TSPS__DELEGATE__INIT);
    Tsps__Delegation dl = TSPS__DELEGATION__INIT;
    char codes[256], *cv[16], *save = NULL;
    const char *s;
    if (a->npos != 2)
        return usage_err("delegate USER ATTENDANT [--monitor] [--act] ...");
    dl.user = STRARG(a->pos[0]);
    dl.attendant = STRARG(a->pos[1]);
    dl.monitor = ctl_flag(a, "--monitor");
    dl.act = ctl_flag(a, "--act");
    dl.related = ctl_flag(a, "--related");
    body.remove = ctl_flag(a, "--remove");
    if ((s = ctl_opt(a, "--codes")) != NULL) {
        snprintf(codes, sizeof(codes), "%s", s);
        for (char *t = strtok_r(codes, ",", &save);
             t != NULL && dl.n_codes < 16; t = strtok_r(NULL, ",", &save))
            cv[dl.n_codes++] = t;
        dl.codes = cv;
    }
    if ((s = ctl_opt(a, "--from")) != NULL &&
        ctl_parse_time(s, &dl.not_before) != 0)
        return usage_err("bad --from TIME");
    if ((s = ctl_opt(a, "--until")) != NULL &&
        ctl_parse_time(s, &dl.not_after) != 0)
        return usage_err("bad --until TIME");
    body.delegation = &dl;
    return exec(ctx, &req, "delegate");
}

static int cmd_delegations(ctl_ctx *ctx, ctl_args *a)
{
    REQ(DELEGATION_LIST, delegation_list, Tsps__DelegationList,
        TSPS__DELEGATION_LIST__INIT);
    if (a->npos > 1)
        return usage_err("delegations [USER]");
    if (a->npos == 1)
        body.user = STRARG(a->pos[0]);
    return exec(ctx, &req, "delegations");
}

static int cmd_token_revoke(ctl_ctx *ctx, ctl_args *a)
{
    REQ(TOKEN_REVOKE, token_revoke, Tsps__TokenRevoke,
        TSPS__TOKEN_REVOKE__INIT);
    body.identity = STRARG(a->pos[1]);
    return exec(ctx, &req, "token.revoke");
}

static int cmd_token(ctl_ctx *ctx, ctl_args *a)
{
    if (a->npos == 2 && strcmp(a->pos[0], "revoke") == 0)
        return cmd_token_revoke(ctx, a);
    REQ(TOKEN_ISSUE, token_issue, Tsps__TokenIssue, TSPS__TOKEN_ISSUE__INIT);
    if (a->npos != 2 || strcmp(a->pos[0], "issue") != 0)
        return usage_err("token issue IDENTITY [--role admin] | token revoke "
                         "IDENTITY");
    body.identity = STRARG(a->pos[1]);
    if (ctl_opt(a, "--role") != NULL)
        body.role = STRARG(ctl_opt(a, "--role"));
    return exec(ctx, &req, "token");
}

static int cmd_device(ctl_ctx *ctx, ctl_args *a)
{
    if (a->npos == 3 && strcmp(a->pos[0], "add") == 0) {
        REQ(DEVICE_ADD, device_add, Tsps__DeviceAdd, TSPS__DEVICE_ADD__INIT);
        body.user = STRARG(a->pos[1]);
        body.username = STRARG(a->pos[2]);
        body.password = STRARG(ctl_opt(a, "--password"));
        if (body.password == NULL)
            return usage_err("device add needs --password");
        if (ctl_opt(a, "--label") != NULL)
            body.label = STRARG(ctl_opt(a, "--label"));
        return exec(ctx, &req, "device.add");
    }
    if (a->npos == 3 && strcmp(a->pos[0], "remove") == 0) {
        REQ(DEVICE_REMOVE, device_remove, Tsps__DeviceRemove,
            TSPS__DEVICE_REMOVE__INIT);
        body.user = STRARG(a->pos[1]);
        body.username = STRARG(a->pos[2]);
        return exec(ctx, &req, "device.remove");
    }
    return usage_err("device add|remove USER USERNAME");
}

static int cmd_related(ctl_ctx *ctx, ctl_args *a)
{
    REQ(RELATED, related, Tsps__RelatedGet, TSPS__RELATED_GET__INIT);
    const char *s;
    if (a->npos == 1)
        body.caller = STRARG(a->pos[0]);
    else if (a->npos != 0)
        return usage_err("related --user U --caller N | related --call ID");
    if ((s = ctl_opt(a, "--user")) != NULL)
        body.user = STRARG(s);
    if ((s = ctl_opt(a, "--caller")) != NULL)
        body.caller = STRARG(s);
    if ((s = ctl_opt(a, "--call")) != NULL && parse_id(s, &body.call_id) != 0)
        return usage_err("bad --call ID");
    if (body.call_id == 0 && (body.user[0] == '\0' || body.caller[0] == '\0'))
        return usage_err("related --user U --caller N | related --call ID");
    if ((s = ctl_opt(a, "--since")) != NULL && ctl_parse_time(s, &body.since))
        return usage_err("bad --since TIME");
    if ((s = ctl_opt(a, "--until")) != NULL && ctl_parse_time(s, &body.until))
        return usage_err("bad --until TIME");
    return exec(ctx, &req, "related");
}

/* voicemail play: the WAV in pieces (a frame holds at most 1 MiB) into
 * FILE, written to FILE.part and renamed when whole. */
static int vm_play(ctl_ctx *ctx, const char *user, const char *id,
                   const char *path, uint32_t chunk)
{
    REQ(VOICEMAIL_GET, voicemail_get, Tsps__VoicemailGet,
        TSPS__VOICEMAIL_GET__INIT);
    Tsps__Response *resp = NULL;
    char err[300], part[1100];
    uint64_t total = 0;
    FILE *f = NULL;
    int rc = ctl_connect(ctx);

    if (rc != EX_OK_)
        return rc;
    if (snprintf(part, sizeof(part), "%s.part", path) >= (int)sizeof(part))
        return usage_err("--out: path too long");
    body.user = STRARG(user != NULL ? user : "");
    body.id = STRARG(id);
    body.max_bytes = chunk;
    f = fopen(part, "wb");
    if (f == NULL) {
        fprintf(stderr, "tspsctl: cannot write %s\n", part);
        return EX_OTHER;
    }
    do {
        rc = tspsd_client_call(ctx->cli, &req, &resp, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "tspsctl: %s\n", err);
            rc = EX_CONN;
            break;
        }
        if (resp->code != TSPS__CODE__OK || resp->n_voicemail != 1) {
            if (ctx->json)
                ctl_print_json(resp);
            else
                fprintf(stderr, "tspsctl: %s\n", resp->error);
            rc = resp->code != TSPS__CODE__OK ? ctl_exit_code(resp->code)
                                              : EX_OTHER;
            break;
        }
        total = resp->voicemail[0]->wav_bytes;
        if (resp->audio.len == 0 || fwrite(resp->audio.data, 1, resp->audio.len,
                                           f) != resp->audio.len) {
            fprintf(stderr, "tspsctl: %s\n",
                    resp->audio.len == 0 ? "message ended early"
                                         : "cannot write the file");
            rc = EX_OTHER;
            break;
        }
        body.offset += resp->audio.len;
        if (body.offset >= total) {
            if (ctx->json) {
                resp->audio.len = 0;
                ctl_print_json(resp);
            } else {
                printf("wrote %s: %" PRIu64 " bytes, %u ms from %s\n", path,
                       total, resp->voicemail[0]->duration_ms,
                       resp->voicemail[0]->contact_name[0]
                           ? resp->voicemail[0]->contact_name
                       : resp->voicemail[0]->caller[0]
                           ? resp->voicemail[0]->caller
                           : "withheld");
            }
        }
        tsps__response__free_unpacked(resp, NULL);
        resp = NULL;
    } while (body.offset < total);
    if (resp != NULL)
        tsps__response__free_unpacked(resp, NULL);
    if (fclose(f) != 0 && rc == EX_OK_) {
        fprintf(stderr, "tspsctl: cannot write %s\n", part);
        rc = EX_OTHER;
    }
    if (rc == EX_OK_ && rename(part, path) != 0) {
        fprintf(stderr, "tspsctl: cannot rename %s to %s\n", part, path);
        rc = EX_OTHER;
    }
    if (rc != EX_OK_)
        remove(part);
    return rc;
}

static int cmd_voicemail(ctl_ctx *ctx, ctl_args *a)
{
    const char *user = ctl_opt(a, "--user");
    const char *sub = a->npos > 0 ? a->pos[0] : "";

    if (strcmp(sub, "list") == 0 && a->npos == 1) {
        REQ(VOICEMAIL_LIST, voicemail_list, Tsps__VoicemailList,
            TSPS__VOICEMAIL_LIST__INIT);
        body.user = STRARG(user != NULL ? user : "");
        return exec(ctx, &req, "voicemail.list");
    }
    if (strcmp(sub, "play") == 0 && a->npos == 2) {
        const char *out = ctl_opt(a, "--out");
        if (out == NULL || out[0] == '\0')
            return usage_err("voicemail play ID --out FILE.wav");
        const char *ck = ctl_opt(a, "--chunk");
        return vm_play(ctx, user, a->pos[1], out,
                       ck != NULL ? (uint32_t)strtoul(ck, NULL, 10) : 0);
    }
    if ((strcmp(sub, "heard") == 0 || strcmp(sub, "delete") == 0) &&
        a->npos == 2) {
        REQ(VOICEMAIL_ACT, voicemail_act, Tsps__VoicemailAct,
            TSPS__VOICEMAIL_ACT__INIT);
        body.user = STRARG(user != NULL ? user : "");
        body.id = STRARG(a->pos[1]);
        body.action = STRARG(sub);
        return exec(ctx, &req, "voicemail.act");
    }
    return usage_err("voicemail list | play ID --out FILE.wav | heard ID | "
                     "delete ID [--user U]");
}

/* The whole of FILE ("-": standard input), NUL-terminated; NULL with a
 * message on stderr when it cannot be read or is larger than `max`. */
static char *slurp(const char *path, size_t max)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;

    if (f == NULL) {
        fprintf(stderr, "tspsctl: cannot open %s\n", path);
        return NULL;
    }
    buf = malloc(max + 2);
    if (buf != NULL) {
        len = fread(buf, 1, max + 1, f);
        if (ferror(f) || len > max) {
            fprintf(stderr, "tspsctl: %s: %s\n", path,
                    ferror(f) ? "read error" : "too large");
            free(buf);
            buf = NULL;
        } else {
            buf[len] = '\0';
        }
    }
    if (f != stdin)
        fclose(f);
    return buf;
}

static int cmd_ivr(ctl_ctx *ctx, ctl_args *a)
{
    if (a->npos == 2 && strcmp(a->pos[0], "get") == 0) {
        REQ(IVR_GET, ivr_get, Tsps__IvrGet, TSPS__IVR_GET__INIT);
        body.user = STRARG(a->pos[1]);
        return exec(ctx, &req, "ivr");
    }
    if (a->npos == 2 && strcmp(a->pos[0], "remove") == 0) {
        REQ(IVR_PUT, ivr_put, Tsps__IvrPut, TSPS__IVR_PUT__INIT);
        body.user = STRARG(a->pos[1]);
        body.remove = 1;
        return exec(ctx, &req, "ivr.remove");
    }
    if (a->npos == 3 && strcmp(a->pos[0], "put") == 0) {
        REQ(IVR_PUT, ivr_put, Tsps__IvrPut, TSPS__IVR_PUT__INIT);
        char *text = slurp(a->pos[2], 32768);
        if (text == NULL)
            return EX_USAGE_;
        body.user = STRARG(a->pos[1]);
        body.text = text;
        int rc = exec(ctx, &req, "ivr");
        free(text);
        return rc;
    }
    return usage_err("ivr get USER | ivr put USER FILE|- | ivr remove USER");
}

static int cmd_cluster(ctl_ctx *ctx, ctl_args *a)
{
    REQ(CLUSTER_DRAIN, cluster_drain, Tsps__ClusterDrain,
        TSPS__CLUSTER_DRAIN__INIT);
    if (a->npos != 1 || strcmp(a->pos[0], "drain") != 0)
        return usage_err("cluster drain [--undo] | cluster status | cluster "
                         "move-user USER SHARD");
    body.undo = ctl_flag(a, "--undo");
    return exec(ctx, &req, "cluster.drain");
}

typedef struct cmd {
    const char *name;
    int (*fn)(ctl_ctx *, ctl_args *);
} cmd;

static const cmd cmds[] = {{"whoami", cmd_whoami},
                           {"route", cmd_route},
                           {"explain", cmd_explain},
                           {"history", cmd_history},
                           {"calls", cmd_calls},
                           {"act", cmd_act},
                           {"watch", cmd_watch},
                           {"user", cmd_user},
                           {"number", cmd_number},
                           {"code", cmd_code},
                           {"status", cmd_status},
                           {"contact", cmd_contact},
                           {"source", cmd_source},
                           {"delegate", cmd_delegate},
                           {"delegations", cmd_delegations},
                           {"token", cmd_token},
                           {"device", cmd_device},
                           {"related", cmd_related},
                           {"voicemail", cmd_voicemail},
                           {"ivr", cmd_ivr},
                           {"cluster", cmd_cluster},
                           {NULL, NULL}};

int ctl_run(ctl_ctx *ctx, int argc, char **argv)
{
    ctl_args a;
    char err[200];

    for (const cmd *c = cmds; c->name != NULL; c++) {
        if (strcmp(c->name, argv[0]) != 0)
            continue;
        if (ctl_args_parse(argc - 1, argv + 1, &a, err, sizeof(err)) != 0)
            return usage_err(err);
        return c->fn(ctx, &a);
    }
    fprintf(stderr, "tspsctl: unknown command %s (see tspsctl --help)\n",
            argv[0]);
    return EX_USAGE_;
}
