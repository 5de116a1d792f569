/* Person names: lexicon and context rules. A capitalized word sequence is a person when a
 * title precedes it ("Mrs. Okafor"), a person cue precedes it ("my name is Ana Lima"), or
 * its first word is a given name from the embedded lexicon ("Maria Schmidt"). The lexicon is
 * a short list of common given names across languages written for this file from general
 * knowledge; it is not derived from any evaluation data. */
#include "pii_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const FIRST_NAMES[] = {
    /* English */
    "aaron", "adam", "alan", "albert", "alex", "alexander", "alice", "amanda", "amy", "andrew", "angela", "ann",
    "anna", "anne", "anthony", "arthur", "ashley", "barbara", "benjamin", "betty", "beverly", "brandon", "brenda",
    "brian", "bruce", "carl", "carol", "caroline", "catherine", "charles", "charlotte", "cheryl", "chloe",
    "christina", "christine", "christopher", "cynthia", "daniel", "david", "deborah", "debra", "dennis", "diana",
    "diane", "donald", "donna", "dorothy", "douglas", "edward", "elizabeth", "emily", "emma", "eric", "ethan",
    "evelyn", "frances", "frank", "gary", "george", "gerald", "gloria", "gregory", "hannah", "harold", "harry",
    "heather", "helen", "henry", "isabella", "jack", "jacob", "james", "janet", "janice", "jason", "jean",
    "jeffrey", "jennifer", "jeremy", "jerry", "jessica", "joan", "joe", "john", "jonathan", "joseph", "joshua",
    "joyce", "judith", "judy", "julia", "julie", "justin", "karen", "katherine", "kathleen", "kelly", "kenneth",
    "kevin", "kimberly", "larry", "laura", "lauren", "linda", "lisa", "liam", "lucas", "madison", "margaret",
    "maria", "marie", "marilyn", "mark", "martha", "mary", "matthew", "megan", "melissa", "michael", "michelle",
    "mildred", "nancy", "natalie", "nathan", "nicholas", "nicole", "noah", "oliver", "olivia", "pamela",
    "patricia", "patrick", "paul", "peter", "philip", "rachel", "ralph", "raymond", "rebecca", "richard",
    "robert", "roger", "ronald", "ruth", "ryan", "samantha", "samuel", "sandra", "sarah", "scott", "sean",
    "sharon", "shirley", "sophia", "stephanie", "stephen", "steven", "susan", "teresa", "terry", "thomas",
    "timothy", "tyler", "victoria", "virginia", "walter", "wayne", "william", "zachary",
    /* German, Dutch, Scandinavian */
    "andreas", "anja", "birgit", "dieter", "erik", "franz", "friedrich", "gerhard", "hans", "heike", "helmut",
    "ingrid", "jan", "jens", "jonas", "jorg", "juergen", "jurgen", "karin", "karl", "katrin", "klaus", "lars",
    "lena", "lukas", "manfred", "monika", "niklas", "nils", "petra", "sabine", "sven", "thorsten", "ursula",
    "uwe", "wolfgang", "anders", "astrid", "bjorn", "ingrid", "johan", "magnus", "sigrid", "pieter", "sanne",
    "daan", "joost", "femke",
    /* French */
    "antoine", "camille", "claire", "francois", "julien", "louis", "mathieu", "nathalie", "nicolas", "pierre",
    "sophie", "thierry", "yves", "isabelle", "sylvie", "jacques", "michel", "philippe", "christophe", "celine",
    /* Spanish, Portuguese, Italian */
    "alejandro", "ana", "antonio", "carlos", "carmen", "diego", "fernando", "francisco", "javier", "jorge",
    "jose", "juan", "lucia", "luis", "manuel", "miguel", "pablo", "pedro", "rafael", "sofia", "valentina",
    "joao", "tiago", "beatriz", "mariana", "giovanni", "giuseppe", "francesca", "giulia", "luca", "marco",
    "matteo", "paolo", "alessandro", "chiara", "elena", "roberto", "stefano",
    /* Slavic, Greek */
    "aleksandr", "alexei", "anastasia", "dmitri", "dmitry", "ivan", "irina", "katarzyna", "natalia", "olga",
    "pavel", "piotr", "sergei", "svetlana", "tatiana", "vladimir", "yuri", "agnieszka", "tomasz", "dimitris",
    "georgios", "eleni", "nikos",
    /* Arabic, Turkish, Persian */
    "ahmed", "ali", "amir", "fatima", "hassan", "hussein", "ibrahim", "khalid", "leila", "mehmet", "mohammed",
    "muhammad", "mustafa", "omar", "reza", "yusuf", "zeynep", "aisha", "layla", "emre", "ayse",
    /* South Asian */
    "amit", "anil", "arjun", "deepak", "lakshmi", "priya", "rahul", "rajesh", "ravi", "sanjay", "sunita",
    "vikram", "ananya", "aditya", "pooja", "neha", "rohan", "kavya",
    /* East Asian (romanized) */
    "chen", "haruto", "hiroshi", "jun", "kenji", "li", "mei", "min-jun", "seo-yeon", "wei", "xin", "yuki",
    "yumi", "takeshi", "akira", "ji-woo", "hana", "jia", "hao", "ling",
    /* African */
    "abebe", "amara", "chinedu", "kwame", "ngozi", "oluwaseun", "thabo", "zanele", "kofi", "ama", "fatou",
    "moussa", "tendai", "wanjiru",
};

static const char *const COMMON_WORDS[] = {
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "because", "but", "by",
    "can", "could", "dear", "did", "do", "does", "for", "from", "good", "have", "he", "hello", "her", "here",
    "hey", "hi", "his", "how", "i", "if", "in", "is", "it", "its", "just", "let", "like", "may", "me", "my",
    "no", "not", "now", "of", "ok", "okay", "on", "or", "our", "please", "regards", "she", "so", "some",
    "thank", "thanks", "that", "the", "their", "then", "there", "these", "they", "this", "those", "to", "we",
    "well", "what", "when", "where", "which", "who", "why", "will", "with", "yes", "you", "your",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "june", "july", "august", "september", "october", "november", "december",
    "street", "avenue", "road", "lane", "drive", "inc", "ltd", "llc", "corp", "company", "bank", "university",
    "hospital", "school", "city", "county", "state", "north", "south", "east", "west", "new", "old", "card",
    "account", "number", "phone", "email", "address", "credit", "customer", "service", "support", "team",
    "manager", "director", "department", "office", "sir", "madam", "god", "happy", "sorry", "sure", "fine",
    "great", "glad", "here", "going", "trying", "looking", "interested", "available", "not", "by",
    "group", "ltd", "plc", "gmbh", "ag", "sa", "co", "corporation", "incorporated", "limited", "holdings",
    "partners", "associates", "foundation", "institute", "college", "academy", "agency", "ministry",
    "council", "committee", "association", "society", "club", "church", "center", "centre", "museum",
    "library", "airport", "station", "hotel", "restaurant", "cafe", "store", "shop", "market", "mall",
    "park", "lake", "river", "mount", "mountain", "island", "beach", "valley", "bay", "united",
    "kingdom", "republic", "federal", "national", "international", "global", "american", "european",
    "english", "french", "german", "spanish", "chinese", "british", "san", "santa", "los", "las", "fort",
    "saint", "st", "port", "boulevard", "place", "square", "court", "apt", "suite", "unit", "floor",
    "box", "po", "technologies", "technology", "systems", "solutions", "services", "software", "labs",
    "media", "news", "times", "post", "journal", "press", "records", "studios", "pictures", "films",
    "music", "games", "sports", "team", "fc", "airlines", "airways", "motors", "energy", "pharma",
    "health", "medical", "clinic", "insurance", "capital", "financial", "bank", "credit", "union",
    "trust", "fund", "investments", "ventures", "industries", "international", "world", "north",
    "south", "east", "west", "central", "upper", "lower", "great", "little", "big", "new", "old",
    "year", "day", "week", "month", "today", "tomorrow", "yesterday", "morning", "evening", "night",
    "christmas", "easter", "halloween", "thanksgiving", "lol", "omg", "rt", "via", "http", "https", "www",
};

static const char *const TITLES[] = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lady", "lord", "madam",
    "mister", "rev", "reverend", "capt", "captain", "sgt", "sergeant", "herr", "frau", "mme", "mlle", "sra",
    "sr", "srta", "dott", "doctor", NULL,
};

/* Cues that introduce a name. Strong ones name a person outright; weak ones ("hi", "with")
 * also precede other words, so they need a name-shaped, non-common word after them. */
static const char *const STRONG_CUES[] = {
    "my name is", "name is", "name:", "named", "called", "dear", "full name", "signed", "sincerely,",
    "regards,", "contact person", "patient", "employee", "customer", "client", "applicant", "user",
    "calls me", "call me", "last name", "first name", "surname", "last name?", "first name?", NULL,
};
static const char *const WEAK_CUES[] = {
    "i am", "i'm", "this is", "meet", "hi", "hello", "thanks", "thank you", "ask for", "talk to", "speak with",
    "speak to", "spoke with", "spoke to", "met with", "cc:", "attn:",
    "attention", "mother", "father", "wife", "husband", "son", "daughter", "brother", "sister", "friend",
    "colleague", "boss", "said", "says", "asked", "told", "according to", "sung by", "written by",
    "directed by", "played by", "married", "kid", "child", "nephew", "niece", "uncle", "aunt", NULL,
};

/* A cue with its length and last byte, so that most cues are rejected on one compare. */
typedef struct cue_entry {
    const char *s;
    size_t n;
    char last;
} cue_entry;

/* Cues grouped by their last byte (lower case): the byte before a name picks the few cues
 * worth comparing, and most bytes pick none. */
typedef struct cue_table {
    cue_entry items[64];
    size_t n;
    unsigned char first[256], count[256];   /* items[first[b], first[b] + count[b]) end in b */
    /* the cues' last two bytes folded to five bits each (cue_pair_key): a word before a name
     * that ends in no cue's pair is settled without a compare */
    uint64_t last_pairs[1024 / 64];
} cue_table;

static inline unsigned cue_pair_key(unsigned char a, unsigned char b) { return (a & 31u) << 5 | (b & 31u); }

static cue_table g_strong_cues, g_weak_cues;

static void cue_table_init(cue_table *t, const char *const *cues) {
    t->n = 0;
    for (int b = 0; b < 256; b++) {
        t->first[b] = (unsigned char)t->n;
        for (const char *const *c = cues; *c && t->n < 64; c++) {
            size_t n = strlen(*c);
            if ((unsigned char)(*c)[n - 1] != b) continue;
            t->items[t->n++] = (cue_entry){*c, n, (*c)[n - 1]};
            unsigned k = cue_pair_key((unsigned char)(*c)[n - 2], (unsigned char)(*c)[n - 1]);   /* cues are >= 2 bytes */
            t->last_pairs[k / 64] |= 1ull << (k % 64);
        }
        t->count[b] = (unsigned char)(t->n - t->first[b]);
    }
}

/* The lexicon: every word of the three lists in one table of lower-case words, each with the
 * lists it is on, so that a capitalized word costs one lookup however many lists are asked
 * about. Open addressing over a hash of the word's length and its first, second and last
 * bytes: it costs the same for any word length (a hash over every byte would be a chain of
 * multiplies per byte of every capitalized word), and the table is fixed, so a text cannot
 * choose words that collide with more than the few entries sharing those four values. */
enum { LEX_FIRST_NAME = 1, LEX_COMMON = 2, LEX_TITLE = 4 };
enum { LEXICON_SLOTS = 2048, LEXICON_MAX_WORD = 40 };
typedef struct lexicon {
    const char *slot[LEXICON_SLOTS];
    unsigned char len[LEXICON_SLOTS];
    unsigned char flags[LEXICON_SLOTS];
    /* bit n of by_first[b]: a word of n bytes begins with the lower-case byte b, so most
     * words not in the lexicon are rejected before any probe */
    uint64_t by_first[256];
    uint64_t titles_by_first[256];   /* the same for the titles alone */
    /* the titles' last two bytes folded to five bits each (cue_pair_key): most words before a
     * name end in no title's pair, and are settled before they are read back to their start */
    uint64_t title_last_pairs[1024 / 64];
} lexicon;

static lexicon g_lexicon;
static pthread_once_t g_lexicon_once = PTHREAD_ONCE_INIT;

static char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }
static unsigned char g_lower[256];   /* lower_ascii as a table */

/* The slot where the probe for word[0, n) (1 <= n <= LEXICON_MAX_WORD, any case) begins. */
static uint32_t lexicon_slot(const char *w, size_t n) {
    uint32_t x = (uint32_t)g_lower[(unsigned char)w[0]] | (uint32_t)g_lower[(unsigned char)w[n > 1]] << 8 |
                 (uint32_t)g_lower[(unsigned char)w[n - 1]] << 16 | (uint32_t)n << 24;
    return (x * 2654435761u) >> (32 - 11);   /* Fibonacci hashing onto 2^11 = LEXICON_SLOTS */
}
_Static_assert(LEXICON_SLOTS == 1 << 11, "lexicon_slot yields 11 bits");

static void lexicon_add(lexicon *lx, const char *w, unsigned char flag) {
    size_t n = strlen(w);
    lx->by_first[(unsigned char)w[0]] |= 1ull << n;
    if (flag == LEX_TITLE) {
        lx->titles_by_first[(unsigned char)w[0]] |= 1ull << n;
        unsigned k = cue_pair_key((unsigned char)w[n - 2], (unsigned char)w[n - 1]);   /* titles are >= 2 bytes */
        lx->title_last_pairs[k / 64] |= 1ull << (k % 64);
    }
    for (uint32_t i = lexicon_slot(w, n);; i = (i + 1) % LEXICON_SLOTS)
        if (!lx->slot[i] || strcmp(lx->slot[i], w) == 0) {
            lx->slot[i] = w;
            lx->len[i] = (unsigned char)n;
            lx->flags[i] |= flag;
            return;
        }
}

/* The lists word[0, n) (any case) is on: LEX_* bits, 0 when none. */
static PII_ALWAYS_INLINE unsigned lexicon_flags(const char *w, size_t n) {
    if (n == 0 || n > LEXICON_MAX_WORD || !(g_lexicon.by_first[g_lower[(unsigned char)w[0]]] >> n & 1)) return 0;
    for (uint32_t i = lexicon_slot(w, n); g_lexicon.slot[i]; i = (i + 1) % LEXICON_SLOTS) {
        if (g_lexicon.len[i] != n) continue;
        const char *e = g_lexicon.slot[i];
        size_t k = 0;
        while (k < n && (unsigned char)e[k] == g_lower[(unsigned char)w[k]]) k++;
        if (k == n) return g_lexicon.flags[i];
    }
    return 0;
}

/* Bytes of a word for names: letters, digits, UTF-8 bytes, apostrophes and hyphens; and what
 * read_word needs to know of each (a table: it is asked for every byte of every capitalized
 * word). */
enum { W_BYTE = 1, W_DIGIT = 2, W_LOWER = 4, W_TRAIL = 8, W_ALNUM = 16 };   /* W_LOWER: a-z or a UTF-8 byte */
static unsigned char g_word_byte[256];
static inline bool word_byte(unsigned char c) { return g_word_byte[c] & W_BYTE; }

static void lexicon_init(void) {
    for (int c = 0; c < 256; c++) {
        bool in_word = guard_is_alnum((unsigned char)c) || c >= 0x80 || c == '\'' || c == '-';
        g_word_byte[c] = (unsigned char)((in_word ? W_BYTE : 0) | (guard_is_digit((unsigned char)c) ? W_DIGIT : 0) |
                                         (guard_is_lower((unsigned char)c) || c >= 0x80 ? W_LOWER : 0) |
                                         (c == '\'' || c == '-' ? W_TRAIL : 0) |
                                         (guard_is_alnum((unsigned char)c) ? W_ALNUM : 0));
        g_lower[c] = (unsigned char)lower_ascii((char)c);
    }
    cue_table_init(&g_strong_cues, STRONG_CUES);
    cue_table_init(&g_weak_cues, WEAK_CUES);
    for (size_t i = 0; i < sizeof FIRST_NAMES / sizeof FIRST_NAMES[0]; i++)
        lexicon_add(&g_lexicon, FIRST_NAMES[i], LEX_FIRST_NAME);
    for (size_t i = 0; i < sizeof COMMON_WORDS / sizeof COMMON_WORDS[0]; i++)
        lexicon_add(&g_lexicon, COMMON_WORDS[i], LEX_COMMON);
    for (const char *const *t = TITLES; *t; t++) lexicon_add(&g_lexicon, *t, LEX_TITLE);
}

bool sealm_guard_is_first_name(const char *word, size_t len) {
    pthread_once(&g_lexicon_once, lexicon_init);
    return (lexicon_flags(word, len) & LEX_FIRST_NAME) != 0;
}

bool sealm_guard_is_common_word(const char *word, size_t len) {
    pthread_once(&g_lexicon_once, lexicon_init);
    return (lexicon_flags(word, len) & LEX_COMMON) != 0;
}

/* ---- word scanning ------------------------------------------------------------------- */

/* Does text[0, q) end with the lower-case word w[0, n) in any case (n <= q)? */
static bool ends_with_lower(const char *text, size_t q, const char *w, size_t n) {
    const char *s = text + q - n;
    for (size_t i = 0; i < n; i++)
        if (g_lower[(unsigned char)s[i]] != (unsigned char)w[i]) return false;
    return true;
}

/* Where a cue before a name at pos would end: pos with the spaces, tabs and commas before it
 * skipped (found once per name, for both cue tables). */
static size_t cue_end_before(const char *text, size_t pos) {
    size_t p = pos;
    while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t' || text[p - 1] == ',')) p--;
    return p;
}

/* Does text[0, p) end with cue (case-insensitive), as whole words, allowing a ':' between the
 * cue and p? p: cue_end_before of the name. The byte before picks the cues that end in it. */
static PII_ALWAYS_INLINE bool cue_right_before(const char *text, size_t p,
                                                const cue_table *cues) {
    if (p == 0) return false;
    for (int colon = 0; colon < 2; colon++) {
        /* a cue ending in ':' or ',' matches the punctuation itself; other cues skip a ':' */
        size_t q = p - (size_t)colon;
        if (colon && text[p - 1] != ':') break;
        if (q < 2) break;   /* every cue has two bytes or more */
        unsigned pair = cue_pair_key((unsigned char)text[q - 2], (unsigned char)text[q - 1]);
        if (!(cues->last_pairs[pair / 64] >> (pair % 64) & 1)) continue;
        unsigned char last = g_lower[(unsigned char)text[q - 1]];
        for (size_t i = cues->first[last]; i < (size_t)cues->first[last] + cues->count[last]; i++) {
            const cue_entry *c = &cues->items[i];
            if (c->n > q || !ends_with_lower(text, q, c->s, c->n)) continue;
            size_t b = q - c->n;
            if (b > 0 && guard_is_alnum((unsigned char)text[b - 1])) continue;
            return true;
        }
    }
    return false;
}

/* One word read once: where it ends without trailing apostrophes and hyphens (end) and with
 * them (end_all), and whether it is name-shaped: an upper-case letter, then at least one more
 * letter, not all capitals (acronyms), no digits. */
typedef struct word_read {
    size_t end, end_all;
    bool shaped;
} word_read;

/* lower: the first pass's masks of a-z per 64-byte chunk (bytes past the text's end in none),
 * or NULL */
static PII_ALWAYS_INLINE word_read read_word(const char *t, size_t len, size_t ws, const uint64_t *lower) {
    word_read w = {ws, ws, false};
    if (ws >= len || !word_byte((unsigned char)t[ws])) return w;
    unsigned char c0 = (unsigned char)t[ws];
    if (!(g_word_byte[c0] & W_TRAIL)) w.end = ws + 1;
    unsigned seen = 0;   /* W_* bits of the bytes after the first */
    size_t e = ws + 1;
    /* most of a name is lower-case ASCII: that run ends at the first clear bit of the masks, or
     * without them after one compare per byte */
    if (lower) {
        uint64_t rest = e < len ? ~lower[e / 64] >> (e % 64) : 1;
        while (!rest) {
            e = (e / 64 + 1) * 64;
            rest = e < len ? ~lower[e / 64] : 1;
        }
        e += (size_t)__builtin_ctzll(rest);
    } else {
        while (e < len && (unsigned char)(t[e] - 'a') < 26) e++;
    }
    if (e > ws + 1) {
        seen = W_BYTE | W_LOWER;
        w.end = e;
    }
    for (; e < len; e++) {
        unsigned k = g_word_byte[(unsigned char)t[e]];
        if (!(k & W_BYTE)) break;
        seen |= k;
        if (!(k & W_TRAIL)) w.end = e + 1;
    }
    w.end_all = e;
    /* trailing apostrophes and hyphens are neither digits nor lower case: the test holds for
     * the trimmed word as for the whole */
    w.shaped = w.end - ws >= 2 && guard_is_upper((unsigned char)t[ws]) && !(seen & W_DIGIT) && (seen & W_LOWER);
    return w;
}

/* Is the word before pos a title ("Mr", "Dr.")? */
static PII_ALWAYS_INLINE bool title_before(const char *text, size_t pos) {
    size_t p = pos;
    while (p > 0 && text[p - 1] == ' ') p--;
    if (p > 0 && text[p - 1] == '.') p--;
    size_t e = p;
    if (e < 2) return false;   /* every title has two bytes or more */
    unsigned pair = cue_pair_key((unsigned char)text[e - 2], (unsigned char)text[e - 1]);
    if (!(g_lexicon.title_last_pairs[pair / 64] >> (pair % 64) & 1)) return false;
    while (p > 0 && (g_word_byte[(unsigned char)text[p - 1]] & W_ALNUM)) p--;
    if (e == p || e - p > 9 || !(g_lexicon.titles_by_first[g_lower[(unsigned char)text[p]]] >> (e - p) & 1)) return false;
    return (lexicon_flags(text + p, e - p) & LEX_TITLE) != 0;
}

/* Is the word before pos "the", "a" or "an"? ("the Golden Gate" names a thing.) */
static bool after_article(const char *text, size_t pos) {
    size_t p = pos;
    while (p > 0 && text[p - 1] == ' ') p--;
    size_t e = p;
    while (p > 0 && guard_is_alnum((unsigned char)text[p - 1])) p--;
    size_t n = e - p;
    return (n == 3 && strncasecmp(text + p, "the", 3) == 0) || (n == 1 && (text[p] | 0x20) == 'a') ||
           (n == 2 && strncasecmp(text + p, "an", 2) == 0);
}

static bool sentence_start(const char *text, size_t pos) {
    size_t p = pos;
    while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '"' || text[p - 1] == '\t')) p--;
    return p == 0 || text[p - 1] == '.' || text[p - 1] == '!' || text[p - 1] == '?' || text[p - 1] == '\n';
}

/* The next place at or after i where a name can begin: an ASCII capital whose byte before is
 * not a word byte. With the first pass's list of capitals (caps), only those are looked at;
 * without it, every byte. */
static size_t next_name_start(const char *text, size_t len, const size_t *caps, size_t n_caps, size_t *k, size_t i) {
    if (caps) {
        for (; *k < n_caps; (*k)++) {
            size_t p = caps[*k];
            if (p >= i && (p == 0 || !word_byte((unsigned char)text[p - 1]))) return p;
        }
        return len;
    }
    for (; i < len; i++)
        if (guard_is_upper((unsigned char)text[i]) && (i == 0 || !word_byte((unsigned char)text[i - 1]))) return i;
    return len;
}

void sealm_guard_pii_names_init(void) { pthread_once(&g_lexicon_once, lexicon_init); }

/* sealm_guard_find_persons, inlined twice: with the lower-case masks and without them (lower
 * NULL), so that neither copy tests which it is at every word */
static PII_ALWAYS_INLINE sealm_status find_persons(const char *text, size_t len, const size_t *caps, size_t n_caps,
                                                   const uint64_t *lower, float min_score, sealm_guard_findings *out,
                                                   sealm_error *err) {
    /* the lexicon was built by the detector's constructor (sealm_guard_pii_names_init) */
    size_t k = 0;   /* next entry of caps to look at */
    for (size_t i = next_name_start(text, len, caps, n_caps, &k, 0); i < len;
         i = next_name_start(text, len, caps, n_caps, &k, i)) {
        size_t ws = i;
        word_read w0 = read_word(text, len, ws, lower);
        size_t we = w0.end;
        unsigned first_word = w0.shaped ? lexicon_flags(text + ws, we - ws) : LEX_COMMON;
        if (first_word & (LEX_COMMON | LEX_TITLE)) {
            i = we > i ? we : i + 1;
            continue;
        }
        /* extend over following name-shaped words ("Anna Maria Lopez"), up to four, and over
         * a middle initial ("Clara R. Dickson", "Ryan P Costa") */
        size_t end = we, words = 1, p = we;
        bool initial = false;
        while (words < 4) {
            size_t q = p;
            if (q < len && (text[q] == ' ')) q++;
            else break;
            if (q + 2 < len && guard_is_upper((unsigned char)text[q]) &&
                (text[q + 1] == ' ' || (text[q + 1] == '.' && text[q + 2] == ' ')) && !initial) {
                size_t after = q + (text[q + 1] == '.' ? 3 : 2);
                word_read w2 = read_word(text, len, after, lower);
                size_t e2 = w2.end_all;
                if (e2 > after && w2.shaped && !(lexicon_flags(text + after, e2 - after) & LEX_COMMON)) {
                    initial = true;
                    p = after - 1;
                    continue;
                }
            }
            /* a name word begins with a capital (read_word's shape): any other byte ends the
             * sequence without the word being read */
            if (q >= len || !guard_is_upper((unsigned char)text[q])) break;
            word_read wq = read_word(text, len, q, lower);
            size_t e = wq.end;
            if (e == q || !wq.shaped || (lexicon_flags(text + q, e - q) & LEX_COMMON)) break;
            end = p = e;
            words++;
        }
        float score = 0;
        const char *rule = NULL;
        bool lex = (first_word & LEX_FIRST_NAME) != 0;
        size_t cue_end = cue_end_before(text, ws);
        if (title_before(text, ws)) {
            score = 0.85f;
            rule = "person.title";
        } else if (cue_right_before(text, cue_end, &g_strong_cues)) {
            score = 0.8f;
            rule = "person.cue";
        } else if (lex) {
            score = words >= 2 ? 0.75f : (sentence_start(text, ws) ? 0.55f : 0.65f);
            rule = "person.lexicon";
        } else if (cue_right_before(text, cue_end, &g_weak_cues) && !sentence_start(text, ws)) {
            score = words >= 2 ? 0.65f : 0.5f;
            rule = "person.weak-cue";
        } else if (initial) {
            score = 0.75f;   /* "First X. Last" is the shape of a person's name */
            rule = "person.initial";
        } else if (words == 2 && !after_article(text, ws)) {
            score = 0.55f;   /* two capitalized, uncommon words: a proper name (titles of works and
                              * headings run longer or follow an article) */
            rule = "person.name-pair";
        }
        if (rule && score >= min_score) {
            sealm_guard_finding f = {SEALM_GUARD_PERSON, ws, end, score, rule};
            sealm_status st = sealm_guard_findings_push(out, f, err);
            if (st != SEALM_OK) return st;
        }
        i = end;   /* a sequence is judged as a whole: its tail is not a name of its own */
    }
    return SEALM_OK;
}

sealm_status sealm_guard_find_persons(const char *text, size_t len, const size_t *caps, size_t n_caps,
                                      const uint64_t *lower, float min_score, sealm_guard_findings *out,
                                      sealm_error *err) {
    return lower ? find_persons(text, len, caps, n_caps, lower, min_score, out, err)
                 : find_persons(text, len, caps, n_caps, NULL, min_score, out, err);
}
