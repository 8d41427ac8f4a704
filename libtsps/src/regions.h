/* Built-in numbering-plan data for the normaliser (normalize.c). Private to
 * libtsps; the data lives in regions.c. */
#ifndef TSPS_REGIONS_H
#define TSPS_REGIONS_H

#include <stdint.h>

/* Region flags. */
#define TSPS__RG_NO_00 0x01 /* "00" is not an international prefix here */
#define TSPS__RG_BR    0x02 /* Brazil: 2-digit carrier code after 00 / 0 */
#define TSPS__RG_MX    0x04 /* Mexico: legacy 01/02/044/045 and +52 1 */
#define TSPS__RG_AR    0x08 /* Argentina: national mobile "15" -> +54 9 */

typedef struct tsps__region {
    char code[3];    /* "DE" */
    uint16_t ccn;    /* 49 */
    char cc[4];      /* "49" */
    char trunk[3];   /* "0", "" if none */
    char intl[5];    /* preferred international prefix */
    uint8_t nsn_min; /* national significant number length bounds */
    uint8_t nsn_max;
    uint8_t local_max;    /* longest subscriber number dialled without an
                             area code (open numbering plans), 0 if none */
    uint8_t flags;        /* TSPS__RG_* */
    const char *alt_intl; /* further international prefixes, '|'-separated,
                             'X' matches any digit; NULL if none */
} tsps__region;

/* Look a region up by its ISO code (2 letters, any case); NULL if unknown. */
const tsps__region *tsps__region_find(const char *code);

/* The main region of a country calling code, if it is in the table. */
const tsps__region *tsps__region_by_cc(unsigned cc);

/* 1 if cc is an assigned ITU-T E.164 country calling code. */
int tsps__cc_valid(unsigned cc);

/* 0 if the lookup tables agree with the data tables (for the tests; see
 * scripts/gen-region-tables.py), negative otherwise. */
int tsps__regions_selfcheck(void);

#endif
