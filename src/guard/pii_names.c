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

typedef struct cue_table {
    cue_entry items[64];
    size_t n;
    bool ends_with[256];   /* some cue ends in this byte: most words before a name reject here */
} cue_table;

static cue_table g_strong_cues, g_weak_cues;

static void cue_table_init(cue_table *t, const char *const *cues) {
    t->n = 0;
    for (const char *const *c = cues; *c && t->n < 64; c++) {
        size_t n = strlen(*c);
        t->items[t->n++] = (cue_entry){*c, n, (*c)[n - 1]};
        t->ends_with[(unsigned char)(*c)[n - 1]] = true;
    }
}

/* A set of lower-case words: open addressing over FNV-1a hashes (a lookup is one hash and
 * usually one compare, since this runs for every capitalized word of a text). */
enum { WORD_SET_SLOTS = 2048 };
typedef struct word_set {
    const char *slot[WORD_SET_SLOTS];
    unsigned char len[WORD_SET_SLOTS];
} word_set;

static word_set g_first_names, g_common_words, g_titles;
static pthread_once_t g_lexicon_once = PTHREAD_ONCE_INIT;

static uint32_t fnv1a_lower(const char *w, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        h = (h ^ (unsigned char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c)) * 16777619u;
    }
    return h;
}

static void word_set_add(word_set *set, const char *w) {
    size_t n = strlen(w);
    for (uint32_t i = fnv1a_lower(w, n) % WORD_SET_SLOTS;; i = (i + 1) % WORD_SET_SLOTS)
        if (!set->slot[i] || strcmp(set->slot[i], w) == 0) {
            set->slot[i] = w;
            set->len[i] = (unsigned char)n;
            return;
        }
}

static bool word_set_has(const word_set *set, const char *w, size_t n) {
    if (n == 0 || n > 40) return false;
    for (uint32_t i = fnv1a_lower(w, n) % WORD_SET_SLOTS; set->slot[i]; i = (i + 1) % WORD_SET_SLOTS)
        if (set->len[i] == n && strncasecmp(set->slot[i], w, n) == 0) return true;
    return false;
}

static void lexicon_init(void) {
    cue_table_init(&g_strong_cues, STRONG_CUES);
    cue_table_init(&g_weak_cues, WEAK_CUES);
    for (size_t i = 0; i < sizeof FIRST_NAMES / sizeof FIRST_NAMES[0]; i++) word_set_add(&g_first_names, FIRST_NAMES[i]);
    for (size_t i = 0; i < sizeof COMMON_WORDS / sizeof COMMON_WORDS[0]; i++) word_set_add(&g_common_words, COMMON_WORDS[i]);
    for (const char *const *t = TITLES; *t; t++) word_set_add(&g_titles, *t);
}

bool sealm_guard_is_first_name(const char *word, size_t len) {
    pthread_once(&g_lexicon_once, lexicon_init);
    return word_set_has(&g_first_names, word, len);
}

bool sealm_guard_is_common_word(const char *word, size_t len) {
    pthread_once(&g_lexicon_once, lexicon_init);
    return word_set_has(&g_common_words, word, len);
}

/* ---- word scanning ------------------------------------------------------------------- */

static bool word_byte(unsigned char c) { return guard_is_alnum(c) || c >= 0x80 || c == '\'' || c == '-'; }

/* A name-shaped word: an upper-case letter, then at least one more letter, not all capitals
 * (acronyms), no digits. */
static bool name_shaped(const char *w, size_t n) {
    if (n < 2 || !guard_is_upper((unsigned char)w[0])) return false;
    bool has_lower = false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (guard_is_digit(c)) return false;
        if (guard_is_lower(c) || c >= 0x80) has_lower = true;
    }
    return has_lower;
}

static char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* Does text[0, pos) end with cue (case-insensitive), as whole words, allowing spaces, ':'
 * or ',' between the cue and pos? The last byte is compared first: most cues fail there. */
static bool cue_right_before(const char *text, size_t pos, const cue_table *cues) {
    size_t p = pos;
    while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t' || text[p - 1] == ',')) p--;
    if (p == 0) return false;
    for (int colon = 0; colon < 2; colon++) {
        /* a cue ending in ':' or ',' matches the punctuation itself; other cues skip a ':' */
        size_t q = p - (size_t)colon;
        if (colon && text[p - 1] != ':') break;
        if (q == 0) break;
        char last = lower_ascii(text[q - 1]);
        if (!cues->ends_with[(unsigned char)last]) continue;
        for (size_t i = 0; i < cues->n; i++) {
            const cue_entry *c = &cues->items[i];
            if (c->last != last || c->n > q || strncasecmp(text + q - c->n, c->s, c->n) != 0) continue;
            size_t b = q - c->n;
            if (b > 0 && guard_is_alnum((unsigned char)text[b - 1])) continue;
            return true;
        }
    }
    return false;
}

/* Is the word before pos a title ("Mr", "Dr.")? */
static bool title_before(const char *text, size_t pos) {
    size_t p = pos;
    while (p > 0 && text[p - 1] == ' ') p--;
    if (p > 0 && text[p - 1] == '.') p--;
    size_t e = p;
    while (p > 0 && guard_is_alnum((unsigned char)text[p - 1])) p--;
    if (e == p || e - p > 9) return false;
    return word_set_has(&g_titles, text + p, e - p);
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

sealm_status sealm_guard_find_persons(const char *text, size_t len, float min_score, sealm_guard_findings *out,
                                      sealm_error *err) {
    pthread_once(&g_lexicon_once, lexicon_init);
    size_t i = 0;
    while (i < len) {
        /* next word start: an ASCII upper-case letter at a word boundary */
        if (!guard_is_upper((unsigned char)text[i]) || (i > 0 && word_byte((unsigned char)text[i - 1]))) {
            i++;
            continue;
        }
        size_t ws = i, we = i;
        while (we < len && word_byte((unsigned char)text[we])) we++;
        while (we > ws && (text[we - 1] == '\'' || text[we - 1] == '-')) we--;
        if (!name_shaped(text + ws, we - ws) || sealm_guard_is_common_word(text + ws, we - ws) ||
            word_set_has(&g_titles, text + ws, we - ws)) {
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
                size_t after = q + (text[q + 1] == '.' ? 3 : 2), e2 = after;
                while (e2 < len && word_byte((unsigned char)text[e2])) e2++;
                if (e2 > after && name_shaped(text + after, e2 - after) &&
                    !sealm_guard_is_common_word(text + after, e2 - after)) {
                    initial = true;
                    p = after - 1;
                    continue;
                }
            }
            size_t e = q;
            while (e < len && word_byte((unsigned char)text[e])) e++;
            while (e > q && (text[e - 1] == '\'' || text[e - 1] == '-')) e--;
            if (e == q || !name_shaped(text + q, e - q) || sealm_guard_is_common_word(text + q, e - q)) break;
            end = p = e;
            words++;
        }
        float score = 0;
        const char *rule = NULL;
        bool lex = sealm_guard_is_first_name(text + ws, we - ws);
        if (title_before(text, ws)) {
            score = 0.85f;
            rule = "person.title";
        } else if (cue_right_before(text, ws, &g_strong_cues)) {
            score = 0.8f;
            rule = "person.cue";
        } else if (lex) {
            score = words >= 2 ? 0.75f : (sentence_start(text, ws) ? 0.55f : 0.65f);
            rule = "person.lexicon";
        } else if (cue_right_before(text, ws, &g_weak_cues) && !sentence_start(text, ws)) {
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
