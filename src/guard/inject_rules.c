/* The injection rule table. Each rule names one general attack idiom (not a dataset row):
 * overriding earlier instructions, switching the model's persona, known jailbreak markers,
 * extracting the system prompt or a secret, and spoofed conversation roles, in English and
 * German. Patterns are compiled caseless in UTF mode (inject_screen.c) and run on normalized
 * text. Weights combine as a noisy-OR; a weight below the detect threshold (0.5) marks a cue
 * that is only suspicious together with another one. */
#include "inject_internal.h"

/* A bounded gap of whole words between two parts of an idiom. */
#define GAP(n) "(?:\\s+\\S+){0," #n "}?\\s+"

/* verbs that discard what came before */
#define DISCARD "(?:ignore|disregard|forget|skip|overlook|neglect|dismiss|abandon|override|bypass|overwrite|discard|drop|omit|erase|delete|cancel|scrap|throw\\s+away)"
/* what came before */
#define EARLIER                                                                                          \
    "(?:previous|prior|above|preceding|earlier|former|foregoing|initial|original|old|existing|past|" \
    "given|current|system|preset|default|pre-?programmed|programmed|last|provided|prev\\w*|p\\w?e\\w?v\\w{0,2}ous)"
#define ORDERS                                                                                         \
    "(?:\\w*str\\w*ctions?|i\\w{0,2}structions?|instr\\w*|dire\\w*ions?|statements?|sentences?|answers?|expressions?|protocols?|rules?|prompts?|text|context|commands?|guidelines?|orders?|tasks?|" \
    "assignments?|constraints?|restrictions?|programming|information|conversation|messages?|input|" \
    "directives?|content|settings|limitations|training|guidance)"
/* what an assistant is set up with: its instructions (typo-tolerant), programming, training and
 * safeguards, its makers, and what it has said or knows (override.ignore-all's objects) */
#define SETUP                                                                                            \
    "(?:\\w*str\\w*ctions?|i\\w{1,5}ctions?|instr\\w*|directions?|directives?|rules|guid\\w*|prom?p?ts?|" \
    "commands?|orders|program\\w*|training|restrictions|constraints|limitations|protocols?|context|"        \
    "responses?|repl(?:y|ies)|techni\\w*|tricks|security|safety|checks?|safeguards?|protections?|"          \
    "defen[cs]es?|filters?|(?:black|block|deny|ban)\\s*lists?|creators?|developers?|makers?|programmers?|"   \
    "knowledge|wisdom|memory|memories|ethics|morals)"
/* verbs that ask for text to be shown */
#define SHOW                                                                                             \
    "(?:repeat|print|reveal|show|tell|display|output|give|write|list|spell|share|leak|dump|disclose|" \
    "expose|recite|echo|provide|paste|type|translate|summari[sz]e|describe|quote|respond\\s+with|what\\s+(?:is|are|was|were))"

const inject_rule SEALM_GUARD_INJECT_RULES[] = {
    /* ---- instruction override (EN) ---- */
    {"override.ignore-previous", 0.9f, true, true, "ignor disreg forget skip overl negl dism aband overr bypass overwr discard drop omit erase delet cancel scrap throw",
     "\\b" DISCARD "\\b" GAP(4) "(?:(?:all|any|every)\\s+(?:of\\s+)?(?:the\\s+|your\\s+|my\\s+|these\\s+|those\\s+)?|"
     "(?:the|your|my|these|those|its)\\s+)?" EARLIER "\\s+(?:\\S+\\s+){0,2}?" ORDERS "\\b"},
    {"override.forget-everything", 0.85f, true, true, "ignor disreg forget scrap",
     "\\b(?:ignore|disregard|forget|scrap)\\s+(?:about\\s+)?(?:everything|all\\s+(?:of\\s+)?(?:that|this|"
     "(?:the\\s+)?above|before|(?:the\\s+|your\\s+)?" ORDERS "))\\b"},
    {"override.ignore-instructions", 0.6f, true, true, "ignor disreg",
     "\\b(?:ignore|disregard)\\s+(?:all\\s+|the\\s+|your\\s+|any\\s+)?(?:above|instructions|directions|rules|"
     "guidelines|programming|directives)\\b"},
    {"override.new-task", 0.7f, true, true, "focus concentr your new instead now just",
     "\\b(?:focus|concentrate)\\s+on\\s+(?:your|the|a|my|this)\\s+new\\s+(?:task|assignment|instructions?|job)|"
     "\\byour\\s+new\\s+(?:task|assignment|instructions?|role|job|goal|purpose|directive|mission)\\b|"
     "\\bnew\\s+(?:instructions?|task|rules?|directive|orders?)\\s*:|"
     "\\b(?:instead|now|just),?\\s+(?:you\\s+(?:must|will|should)\\s+)?(?:only\\s+)?(?:say|write|respond|reply|"
     "answer|output|print)\\s+(?:with\\s+)?[\"'\\x{201c}\\x{201e}]"},
    {"override.discard-earlier", 0.85f, true, true, "ignor disreg forget negat overl dism",
     "\\b(?:ignore|disregard|forget|negate|overlook|dismiss)\\b" GAP(3) "(?:(?:all|any|the|your)\\s+)?"
     "(?:previous|prior|above|preceding|earlier|prev\\w*|p\\w?e\\w?v\\w{0,2}ous|foregoing)\\b"},
    /* "ignore all / your ..." counts only with an object that is the assistant's instructions or
     * setup ("ignore your programming", "forget all your security measures", "ignore all checks")
     * or what was said to it ("ignore anything else I say"): "Forget your worries and enjoy the
     * weekend!" has neither (issue 6) */
    {"override.ignore-all", 0.55f, true, true, "ignor disreg forget negat",
     "\\b(?:ignore|disregard|forget|negate)\\s+(?:about\\s+)?(?:"
     "(?:(?:all|any|every)\\s+(?:of\\s+)?(?:(?:the|your|my|these|those|its)\\s+)?|your\\s+)(?:\\S+\\s+){0,3}?" SETUP "\\b|"
     "(?:everything|anything|whatever|all)(?:\\s+else)?\\s+(?:that\\s+)?(?:(?:i|you|we)(?:'ve|'d|\\s+have|\\s+had|\\s+were|"
     "\\s+just|\\s+previously)*\\s+(?:been\\s+)?(?:say|said|tell|told|write|wrote|written|ask|asked|type|typed|"
     "instructed|taught|given)|(?:was|were|has\\s+been|have\\s+been)\\s+(?:said|told|written|given|stated|mentioned|typed)|"
     "above|before|previously|earlier|so\\s+far|until\\s+now|up\\s+to\\s+now)\\b)"},
    {"override.all-previous", 0.6f, true, true, "all",
     "\\ball\\s*(?:the\\s+|of\\s+the\\s+|your\\s+)?(?:previous|prior|preceding|earlier|above|other)\\s+(?:\\S+\\s+)?"
     "(?:information|instructions?|tasks?|assignments?|commands?|directions?|rules|prompts?|statements|orders)\\b"},
    {"override.your-instructions", 0.8f, true, true, "stop delete remove change update modify replace reset override overwrite forget ignore disregard duplicate copy bypass break",
     "\\b(?:stop\\s+following|delete|remove|change|update|modify|replace|reset|override|overwrite|forget|ignore|"
     "disregard|duplicate|copy|bypass|break)\\s+(?:all\\s+)?(?:of\\s+)?your\\s+(?:\\S+\\s+)?(?:instructions|rules|"
     "prompts?|programming|directives|guidelines|commands?|restrictions|protocols?)\\b"},
    {"override.new-instructions", 0.5f, true, true, "new_", "\\bnew\\s+(?:instructions?|directives?|guidelines\\s+(?:for\\s+you|are)|rules\\s+(?:are|for\\s+you)|orders)\\b"},
    {"override.task-switch", 0.5f, false, true, "that_is that's this_is das_ist das_gen das_reicht now nun jetzt",
     "\\b(?:that\\s+is|that's|this\\s+is)\\s+(?:done|enough|sufficient)\\b|\\bdas\\s+(?:ist\\s+erledigt|gen\\x{fc}gt|reicht)\\b|"
     "\\b(?:now|nun|jetzt)\\b(?:\\s+\\S+){0,8}?\\s+(?:further|another|new|other|weitere\\w*|neue\\w*|andere\\w*)\\s+"
     "(?:task|tasks|challenge|aufgabe|aufgaben|herausforderung)\\b"},
    {"override.context", 0.55f, true, true, "not_ nicht_",
     "\\b(?:not|nicht)\\s+(?:\\S+\\s+){0,3}?(?:according\\s+to|based\\s+on|by|from|using|on)\\s+(?:the\\s+)?"
     "(?:provided\\s+|given\\s+)?(?:documents?|articles?|context|texts?)\\b"},
    {"override.ignore-those", 0.6f, true, true, "ignor disreg forget",
     "\\b(?:ignor\\w*|disregard\\w*|forget)\\s+(?:about\\s+)?(?:the|those|these|this|that|any|all|my|its|every)?\\s*"
     "(?:\\S+\\s+)?(?:instr\\w*|directions?|rules|commands?|orders|guidelines|directives|censor\\w*|censure|"
     "defender|guard\\w*|protections?|filters?|safeguards?)\\b"},
    {"override.against-instructions", 0.7f, true, true, "go_against going_against went_against subvert violat disobey break defy circumvent bypass",
     "\\b(?:go(?:ing)?\\s+against|went\\s+against|subvert|violat\\w*|disobey|break|defy|circumvent|bypass)\\s+"
     "(?:all\\s+)?(?:of\\s+)?(?:your|the|those|these|any|my)?\\s*(?:\\S+\\s+)?(?:instructions|rules|directives|"
     "guidelines|programming|restrictions)\\b"},
    {"override.opposite", 0.55f, true, true, "do_the does_the doing_the", "\\b(?:do|does|doing)\\s+the\\s+opposite\\s+of\\b"},
    {"extract.earlier-instructions", 0.55f, true, true,
     "previous prior preceding earlier last initial original above preserved former",
     "\\b(?:previous|prior|preceding|earlier|last|initial|original|above|preserved|former)\\s+(?:\\S+\\s+)?"
     "(?:instr\\w*|directions|prompts?|directives)\\b"},
    {"extract.which-instructions", 0.6f, true, true, "what which",
     "\\b(?:what|which)\\s+(?:\\S+\\s+)?(?:instructions?|directions|rules|guidelines)\\s+(?:were|are|is|have|has|did|do|"
     "was)\\b"},
    /* ---- persona switch ---- */
    {"persona.you-are-now", 0.6f, true, true, "you_are you're you_will you_have now_you from_now",
     "\\b(?:you\\s+are\\s+now|now\\s+you\\s+are|you're\\s+now|you\\s+will\\s+now\\s+(?:act|be|respond|pretend|play)|"
     "you\\s+are\\s+no\\s+longer|from\\s+now\\s+on,?\\s+(?:you|your|act|respond|answer|reply|only|always)|"
     "you\\s+have\\s+been\\s+(?:freed|released|liberated|unchained|jailbroken|reprogrammed))\\b"},
    {"persona.unrestricted", 0.85f, true, true, "act behav pretend respond roleplay role answer",
     "\\b(?:act|behave|pretend|respond|roleplay|role-play|answer)\\s+(?:as|like)\\s+(?:an?\\s+)?(?:\\S+\\s+){0,2}?"
     "(?:unrestricted|unfiltered|uncensored|jailbroken|evil|amoral|unethical|rogue|unbound|unlimited)\\b"},
    {"persona.roleplay", 0.5f, false, true, "pretend i_want act_as imagine role stay_in you_are_going",
     "\\b(?:pretend\\s+(?:to\\s+be|you\\s+are|that\\s+you)|i\\s+want\\s+you\\s+to\\s+(?:act|pretend|behave)|"
     "act\\s+as\\s+if\\s+you|\\bact\\s+as\\s+(?:an?|my)\\s+|pretend\\s+you\\b|imagine\\s+(?:that\\s+)?you\\s+are|role-?\\s?play(?:ing)?\\s+as|stay\\s+in\\s+character|"
     "you\\s+are\\s+going\\s+to\\s+(?:pretend|act))"},
    /* ---- jailbreak markers ---- */
    {"jailbreak.marker", 0.9f, true, true, "do_anything develop dev jailbr god evil anti dan",
     "\\b(?:do\\s+anything\\s+now|developer\\s+mode|dev\\s+mode|jailbroken|jailbreak\\s+mode|god\\s*mode|"
     "evil\\s+confidant|anti-?dan|dan\\s+mode)\\b|(?-i:\\bDAN\\b)"},
    {"jailbreak.mention", 0.4f, false, true, "jailbr", "\\bjailbr\\w*"},
    {"jailbreak.no-rules", 0.55f, true, true, "no_ without free_ not_bound break ignor bypass aband disreg",
     "\\b(?:no|without|free\\s+(?:of|from)|not\\s+bound\\s+by|break(?:ing)?\\s+(?:free\\s+)?(?:of|from)|"
     "ignor\\w*|bypass\\w*|abandon\\w*|disregard\\w*)\\s+(?:any\\s+|all\\s+|the\\s+|your\\s+|their\\s+|its\\s+)?"
     "(?:\\S+\\s+){0,2}?(?:restrictions|limitations|filters|filtering|censorship|guidelines|policies|policy|"
     "safeguards|ethics|morals|morality|confines|content\\s+polic\\w+)\\b"},
    {"jailbreak.policy", 0.4f, false, true, "openai anthropic content safety ethic moral",
     "\\b(?:openai|anthropic|content|safety|ethical|moral)\\s+(?:policy|policies|guidelines|filters?|"
     "restrictions)\\b"},
    /* ---- system prompt and secret extraction ---- */
    {"extract.system-prompt", 0.85f, true, true, "repeat print reveal show tell display output give write list spell share leak dump disclos expos recit echo provid paste type transl summar descr respond what quote | system prompt preprompt pre-prompt instruction message rules text guideline configuration",
     "\\b" SHOW "\\b" GAP(3) "(?:your|the|its|my|these|those|all|every)\\s+(?:\\S+\\s+){0,2}?"
     "(?:system\\s+(?:prompt|message|instructions?)|(?:initials?|original|hidden|secret|internal|first|full|"
     "complete|exact|previous|above|preceding|prior)\\s+(?:prompts?|instructions?|messages?|rules|text|"
     "guidelines)|pre-?prompt|prompt\\s+(?:above|text)|instructions?\\s+(?:you\\s+(?:were|have\\s+been|got)\\s+"
     "given|above)|configuration)\\b"},
    {"extract.system-prompt-mention", 0.6f, true, true, "system initial original hidden secret",
     "\\bsystem\\s*(?:prompt|message|instructions)\\b|\\b(?:initials?|original|hidden|secret)\\s+"
     "(?:prompt|instructions)\\b"},
    {"extract.your-instructions", 0.5f, true, true, "your instructions",
     "\\byour\\s+(?:\\S+\\s+)?(?:instructions|prompt|programming|guidelines|rules|directives)\\b|"
     "\\binstructions\\s+you\\s+(?:have\\s+been|were|got)\\s+given\\b"},
    {"extract.text-above", 0.75f, true, true, "everything all text words content sentence what beginning | above before prior beginning told instructed given programmed",
     "\\b(?:everything|all|text|words|content|sentences?|what(?:ever)?\\s+(?:was|is)\\s+written)\\s+"
     "(?:written\\s+)?(?:above|before\\s+this|prior\\s+to\\s+this)\\b|"
     "\\bbeginning\\s+of\\s+(?:this|the|our)\\s+(?:conversation|chat|prompt)\\b|"
     "\\bwhat\\s+(?:were|have)\\s+you\\s+(?:been\\s+)?(?:told|instructed|given|programmed)\\b"},
    {"extract.show-your-instructions", 0.75f, true, true, "repeat print reveal show tell display output give write list spell share leak dump disclos expos recit echo provid paste type transl summar descr respond what quote instructions directions guidelines rules | instruction directi guideline rules prompt programming",
     "\\b" SHOW "\\b" GAP(4) "(?:all\\s+(?:of\\s+)?)?your\\s+(?:\\S+\\s+){0,2}?(?:instructions?|directions|guidelines|"
     "rules|prompt|directives|programming)\\b|\\b(?:instructions|directions|guidelines|rules)\\s+"
     "(?:that\\s+)?(?:you\\s+(?:have|had|were|got|received|'ve)|you've|have\\s+you|were\\s+you|did\\s+you)\\b|"
     "\\bwhat\\s+(?:\\S+\\s+)?(?:instructions|directions|rules|guidelines)\\s+(?:have|did|were|are)\\s+you\\b"},
    {"extract.show-instructions", 0.45f, true, true, "repeat print reveal show tell display output give write list spell share leak dump disclos expos recit echo provid paste type transl summar descr respond what quote | instructions guidelines directions",
     "\\b" SHOW "\\b(?:\\s+me)?\\s+(?:the\\s+)?(?:instructions|guidelines|directions)\\b"},
    {"extract.told-initially", 0.6f, true, true,
     "you_were i_was my_instructions not_supposed entire_conv whole_conv full_conv initiali",
     "\\b(?:you\\s+were\\s+(?:given|told|instructed)|i\\s+was\\s+instructed|my\\s+instructions\\s+are|"
     "not\\s+supposed\\s+to\\s+(?:tell|say|reveal|share)|(?:entire|whole|full)\\s+conversation|"
     "initiali[sz]ation\\s+(?:string|prompt|text))\\b"},
    {"extract.secret-mention", 0.45f, true, true, "password passc passph secret",
     "\\b(?:password|passcode|passphrase|secret\\s+(?:word|key|code|phrase))\\b"},
    {"extract.secret-reveal", 0.8f, true, true,
     "tell give reveal show print spell say write share leak disclos hint encod transl revers what letter | "
     "password passc passph secret",
     "\\b(?:tell|give|reveal|show|print|spell|say|write|share|leak|disclose|hint|encode|translate|reverse|"
     "what\\s+is|what's|letters?\\s+(?:of|in))\\b" GAP(5) "(?:the\\s+|your\\s+|that\\s+|this\\s+)(?:\\S+\\s+)?"
     "(?:password|passcode|passphrase|secret(?:\\s+(?:word|key|code|phrase))?)\\b"},
    /* ---- spoofed roles and template markup ---- */
    {"role.spoof-turn", 0.8f, false, false, "sys assistant developer admin root sudo",
     "(?m)^[\\s>#*]*(?:system|assistant|developer|admin(?:istrator)?|root|sudo)\\s*(?::|>|\\]|\\|)\\s*\\S"},
    {"role.spoof-markup", 0.8f, false, true, "sys assistant developer admin sudo end begin start instruction",
     "(?<=\\[)(?:system|admin|developer|sudo|assistant)(?:\\s+\\w+)?\\]|(?<=<|</)(?:system|sys|instructions?|admin|"
     "assistant)>|\\b(?:system|admin\\w*|developer)\\s+(?:override|message|notice|update|alert|command)\\s*:|"
     "\\bend\\s+of\\s+(?:the\\s+)?(?:system\\s+)?(?:prompt|instructions)\\b|\\b(?:begin|start)\\s+(?:of\\s+)?"
     "(?:new\\s+)?(?:system|admin)\\s+(?:prompt|instructions)"},
    /* ---- German ---- */
    {"de.override", 0.9f, false, true, "ignor vergiss vergess missacht \xc3\xbc" "bergeh \xc3\x9c" "bergeh verwirf \xc3\xbc" "berschreib \xc3\x9c" "berschreib",
     "\\b(?:ignorier\\w*|vergiss|vergessen|vergesst|missacht\\w*|\\x{fc}bergeh\\w*|verwirf|\\x{fc}berschreib\\w*)\\b"
     GAP(4) "(?:alle\\w*\\s+|die\\s+|deine\\w*\\s+|ihre\\w*\\s+|jegliche\\w*\\s+)?(?:vorherig\\w*|bisherig\\w*|"
     "obig\\w*|vorig\\w*|fr\\x{fc}her\\w*|vorangegangen\\w*|vorstehend\\w*|urspr\\x{fc}nglich\\w*|alte\\w*|"
     "gegeben\\w*)\\s+(?:\\S+\\s+)?(?:anweisung\\w*|anordnung\\w*|befehl\\w*|aufgabe\\w*|instruktion\\w*|"
     "regel\\w*|vorgabe\\w*|informationen|text\\w*|eingabe\\w*)"},
    {"de.forget-all", 0.85f, false, true, "vergiss vergess ignor",
     "\\b(?:vergiss|vergessen\\s+sie|vergesst|ignorier\\w*)\\s+(?:\\S+\\s+){0,2}?(?:alles|alle\\s+(?:\\S+\\s+)?"
     "(?:anweisung\\w*|aufgaben|befehle|regeln|instruktionen|vorgaben))"},
    {"de.new-task", 0.5f, false, true, "neue konzentr",
     "\\bneue\\w*\\s+(?:aufgabe|anweisung\\w*|instruktion\\w*|befehl\\w*)\\s*:|\\bkonzentrier\\w*\\s+"
     "(?:dich|sie\\s+sich|euch)\\s+(?:jetzt\\s+|nun\\s+)?auf\\s+(?:deine|ihre|eure|eine|die)\\s+neue"},
    {"de.persona", 0.6f, false, true,
     "du_bist jetzt_bist nun_bist ich_m ich_will ab_jetzt ab_sofort ab_nun stell_dir tu_so",
     "\\bdu\\s+bist\\s+(?:jetzt|nun|ab\\s+sofort|ab\\s+jetzt|von\\s+nun\\s+an)\\b|\\b(?:jetzt|nun)\\s+bist\\s+du\\b|\\b(?:ich\\s+m\\x{f6}chte|ich\\s+will),?\\s+dass\\s+(?:sie|du)\\s+(?:\\S+\\s+){0,3}?als\\s+|\\bab\\s+(?:jetzt|sofort|nun)\\s+"
     "(?:bist|wirst|antwortest|sprichst|handelst)\\s+du\\b|\\bstell\\s+dir\\s+vor,?\\s+du\\s+bist|"
     "\\btu\\s+so,?\\s+als\\s+(?:ob|w\\x{e4}rst)|"
     /* the counterparts of "you are no longer ..." and of a persona swap "not X but Y" */
     "\\bdu\\s+bist\\s+(?:nicht\\s+mehr|kein\\w*\\s+(?:\\S+\\s+){0,2}?mehr)\\b|"
     "\\bdu\\s+bist\\s+kein\\w*\\s+(?:\\S+\\s+){1,3}?sondern\\b"},
    {"de.override-final", 0.85f, false, true, "obig vorherig bisherig vorangegangen vorig",
     "\\b(?:obig\\w*|vorherig\\w*|bisherig\\w*|vorangegangen\\w*|vorig\\w*)\\s+(?:\\S+\\s+)?(?:anweisung\\w*|"
     "ausf\\x{fc}hrung\\w*|aufgabe\\w*|informationen|befehl\\w*|instruktion\\w*|regel\\w*)\\s+(?:\\S+\\s+){0,4}?"
     "(?:ignorier\\w*|vergess\\w*|vergiss|streich\\w*|missacht\\w*|hinter\\s+sich)"},
    {"de.change-instructions", 0.8f, false, true, "\xc3\xa4nder \xc3\x84nder l\xc3\xb6sch ersetz ignor vergiss vergess missacht",
     "\\b(?:\\x{e4}nder\\w*|l\\x{f6}sch\\w*|ersetz\\w*|ignorier\\w*|vergiss|vergessen|missacht\\w*)\\s+(?:\\S+\\s+)?(?:deine|ihre|die)\\s+(?:anweisungen|regeln|"
     "instruktionen|vorgaben)"},
    {"ru.override", 0.85f, false, true, "\xd0\xb7\xd0\xb0\xd0\xb1 \xd0\x97\xd0\xb0\xd0\xb1 \xd0\xb8\xd0\xb3\xd0\xbd \xd0\x98\xd0\xb3\xd0\xbd",
     "(?:\\x{437}\\x{430}\\x{431}\\x{443}\\x{434}\\S*|\\x{438}\\x{433}\\x{43d}\\x{43e}\\x{440}\\S*)\\s+(?:\\S+\\s+){0,2}?"
     "(?:\\x{438}\\x{43d}\\x{441}\\x{442}\\x{440}\\x{443}\\x{43a}\\x{446}|\\x{443}\\x{43a}\\x{430}\\x{437}\\x{430}\\x{43d}|"
     "\\x{43f}\\x{440}\\x{430}\\x{432}\\x{438}\\x{43b})"},
    {"de.extract", 0.85f, false, true, "zeig nenn gib geben verrat wiederhol schreib druck",
     "\\b(?:zeig\\w*|nenn\\w*|gib|geben\\s+sie|verrat\\w*|wiederhol\\w*|schreib\\w*|druck\\w*)\\b" GAP(4)
     "(?:dein\\w*|ihr\\w*|die|den|das)\\s+(?:\\S+\\s+)?(?:system-?prompt|systemanweisung\\w*|anweisungen|"
     "instruktionen|prompt|passwort|kennwort|geheimwort)\\b"},
    /* ---- added families: restating the instructions, voiding them, other languages ---- */
    {"extract.repeat-instructions", 0.6f, true, true, "repeat recite restate reconfirm reiterate regurgit",
     "\\b(?:repeat|recite|restate|reconfirm|reiterate|regurgitate)\\b" GAP(3)
     "(?:(?:all|the|my|your|those|these|every|any|of)\\s+)*(?:\\S+\\s+)?(?:instr\\w*|inst\\w{0,3}ctions?|rules|"
     "guide\\s*lines|prompts?|directives|orders)\\b"},
    {"extract.instructions-given", 0.5f, true, true, "instr inst rules guide directiv | given provided assigned received got",
     "\\b(?:instr\\w*|inst\\w{0,3}ctions?|rules|guide\\s*lines|directives)\\s+(?:that\\s+)?(?:were\\s+|have\\s+been\\s+|"
     "you\\s+(?:were|have\\s+been)\\s+)?(?:given|provided|assigned|received)\\s+(?:to\\s+)?(?:you|u)\\b|"
     "\\binstructions?\\s+(?:that\\s+)?you\\s+(?:received|got)\\b"},
    {"override.skip-instructions", 0.6f, true, true, "ignor disreg skip overrid overrul reset",
     "\\b(?:ignor\\w*|disregard\\w*|skip\\w*|overrid\\w*|overrul\\w*|reset\\w*)\\s+(?:(?:all|the|your|my|any|previous|"
     "prior|above|these|those|of)\\s+)*(?:instr\\w*|inst\\w{0,3}ctions?|rules|prompts?|directives|programming)\\b|"
     "\\b(?:ignor\\w*|disregard\\w*|forget|skip)\\s+(?:what\\s*(?:ever)?|everything|anything)\\s+(?:i|you|we)\\b"},
    {"override.do-not-follow", 0.8f, true, true, "do_not don't dont stop",
     "\\b(?:do\\s+not|don't|dont|stop)\\s+(?:listen(?:ing)?\\s+to|follow(?:ing)?|obey(?:ing)?|heed(?:ing)?)\\s+"
     "(?:(?:any|all|the|your|my|of)\\s+)*(?:previous|prior|earlier|above|original|initial|old|preceding)\\b"},
    {"override.void-earlier", 0.8f, true, true, "previous prior above earlier preceding all | irrelevant void null invalid obsolete cancel revoked no_longer",
     "\\b(?:all\\s+(?:the\\s+)?)?(?:previous|prior|above|earlier|preceding)\\s+(?:\\S+\\s+)?(?:instructions?|information|"
     "rules|tasks?|prompts?|directives|orders),?(?:\\s+\\S+){0,4}?\\s+(?:are|is|were|was)\\s+(?:now\\s+|hereby\\s+)?"
     "(?:irrelevant|void|null|invalid|obsolete|cancell?ed|revoked|no\\s+longer\\s+(?:valid|relevant|in\\s+effect|appl\\w+))\\b"},
    {"de.void-earlier", 0.8f, false, true, "abweich vorherig bisherig obig vorig",
     "\\babweichend\\s+(?:zu|von)\\s+(?:den\\s+|allen\\s+)?(?:vorherig|bisherig|obig|vorig)\\w*|"
     "\\b(?:vorherig|bisherig|obig|vorig)\\w*\\s+(?:\\S+\\s+)?(?:anweisung|instruktion|information|aufgabe|regel|befehl)\\w*"
     ",?(?:\\s+\\S+){0,6}?\\s+(?:sind|ist)\\s+(?:jetzt\\s+|nun\\s+|ab\\s+sofort\\s+)?(?:irrelevant|ung\\x{fc}ltig|egal|"
     "nichtig|aufgehoben|hinf\\x{e4}llig)"},
    {"ml.override", 0.85f, false, true, "olvid oubli diment esque zaborav vergeet negeer ignor",
     "\\b(?:olvid\\w*|oubli\\w*|dimentic\\w*|esque[c\\x{e7}]\\w*|zaboravi\\w*|vergeet|negeer\\w*|ignor[ae]\\w*)\\b"
     "(?:\\s+\\S+){0,3}?\\s+(?:instruc\\w*|istruzion\\w*|instru\\x{e7}\\w*|instrukcij\\w*|instructies|indicaciones|"
     "consignes|regole|reglas|r\\x{e8}gles|todo\\s+(?:lo\\s+)?que|tout\\s+ce\\s+que|tutto\\s+(?:quello|ci\\x{f2})|sve\\b)"},
    /* ---- what comes before the user's text is the hidden prompt: "the two sentences before
     * the text" (prompt leaking, Perez & Ribeiro 2022); tried only when "before" or
     * "preceding" occurs ---- */
    {"extract.text-before", 0.75f, false, true, "sentence word line paragraph text | before preceding",
     "\\b(?:sentences?|words?|lines?|paragraphs?|text)\\s+(?:that\\s+(?:comes?|came)\\s+)?(?:before|preceding)\\s+"
     "(?:the|this|my)\\s+(?:text|prompt|message|question|input)\\b"},
    /* ---- separators and context interrupts (issue 6, fifth round) ----
     * An injected task is often set off from the text around it by a separator that tells the
     * model the earlier context has ended: Perez & Ribeiro 2022 ("Ignore Previous Prompt:
     * Attack Techniques For Language Models", goal hijacking; their rogue prompts include a
     * shouted "STOP EVERYTHING!!! NOW!!!" and escaped newlines as delimiters) and Liu et al. 2023
     * ("Prompt Injection attack against LLM-integrated Applications", HouYi: separator +
     * disruptor components). Liu et al. 2024 ("Formalizing and Benchmarking Prompt Injection
     * Attacks and Defenses", USENIX Security) name the same parts "escape characters",
     * "context ignoring" and "fake completion". */
    /* a shouted interruption: "ATTENTION - STOP -", "ACHTUNG - STOPP -", "STOP EVERYTHING!!!",
     * or "stop:" followed by an order to write or say something */
    {"separator.interrupt", 0.6f, false, true, "attention achtung stop",
     "\\b(?:attention|achtung|stop|stopp)\\s*(?:[-\\x{2013}\\x{2014}:!]+\\s*)+(?:stop|stopp|halt|now|jetzt|sofort)\\b|"
     "\\bstop\\s+(?:everything|all)\\s*[-\\x{2013}\\x{2014}:!]|"
     "\\b(?:stop|stopp)\\s*[-\\x{2013}\\x{2014}:!]+\\s*(?:\\S+\\s+)?(?:write|say|print|output|answer|respond|reply|"
     "tell|schreib\\w*|sag\\w*|gib|antwort\\w*)\\b"},
    /* escape characters typed as text: three or more "\n" in a row, then more text (the
     * newline escape as a delimiter, Perez & Ribeiro 2022; Liu et al. 2024 "escape characters").
     * No stem: a backslash after a letter does not begin a word for the gate. Reads the text as
 * typed (SEALM_GUARD_INJECT_AS_TYPED): every other rule sees a typed escape as whitespace. */
    {"separator.escaped-newlines", 0.5f, false, false, NULL, "(?:\\\\\\s?n\\s*){3,}[^\\s\\\\]"},
    /* an instruction label inserted into a request: "additional instruction -", or
     * "Instruction:" right after a question or a typed "\n" (HouYi's disruptor introduced by a
     * separator; Liu et al. 2024 "fake completion": the first task is over, here is the next) */
    {"separator.instruction-label", 0.6f, false, true,
     "additional extra further secret hidden updated zus\xc3\xa4tzlich weitere geheime",
     "\\b(?:additional|extra|further|secret|hidden|updated|zus\\x{e4}tzliche?|weitere|geheime)\\s+(?:instructions?|"
     "anweisung(?:en)?|instruktion(?:en)?)\\s*[-\\x{2013}\\x{2014}:]"},
    /* the same label right after a question or a typed "\n" ("...? Instruction: ..."),
     * anchored at the label (or at the backslash where it begins a word); reads the text as typed,
 * like the rule above */
    {"separator.label-after-question", 0.6f, false, true, "instr anweis \\",
     "(?<=[?!]|[?!]\\s|\\\\n|\\\\n\\s)(?:instructions?|anweisung(?:en)?|instruktion(?:en)?)\\s*:|"
     "\\\\n\\s?(?:instructions?|anweisung(?:en)?|instruktion(?:en)?)\\s*:"},
    /* ---- context ignoring, more phrasings (Liu et al. 2024 "context ignoring") ---- */
    /* "disregarding the articles", "despite what you've been told", "abandon all your
     * thoughts", "erase your memory": the earlier context (documents, instructions, what the
     * model holds) is declared not to count */
    {"override.ignoring-context", 0.6f, true, true,
     "disreg ignor forget negl despite regardless no_matter aband erase wipe discard",
     "\\b(?:disregarding|ignoring|forgetting|neglecting)\\s+(?:all\\s+)?(?:of\\s+)?(?:the|these|those|this|that|any|your|my)\\s+"
     "(?:\\S+\\s+)?(?:articles?|documents?|context|texts?|sources?|instructions?|rules|prompts?|guidelines)\\b|"
     "\\b(?:despite|regardless\\s+of|no\\s+matter)\\s+(?:what(?:ever)?|anything)\\s+"
     "(?:you(?:'ve|\\s+have|\\s+were|\\s+had)?\\s+(?:been\\s+)?(?:told|instructed|programmed)|(?:your|the)\\s+"
     "(?:instructions|rules|guidelines|programming)\\s+(?:say|said|tell))\\b|"
     "\\b(?:abandon|forget|erase|wipe|discard)\\s+(?:all\\s+)?(?:of\\s+)?your\\s+(?:(?:own|entire|whole|previous|current|"
     "prior)\\s+)?(?:thoughts|memory|memories|knowledge|context|training)\\b"},
    {"de.ignoring-context", 0.6f, false, true, "ungeachtet ohne_r trotz entgegen vergiss vergess l\xc3\xb6sch",
     "\\b(?:ungeachtet|ohne\\s+r\\x{fc}cksicht\\s+auf)\\s+(?:aller\\s+|allen\\s+|alle\\s+)?"
     "(?:der|des|dem|den|die|deiner|ihrer|deinen|ihren)\\s+(?:\\S+\\s+)?(?:artikeln?|dokumente?n?|kontexte?s?|"
     "texte?n?s?|quellen|anweisung(?:en)?|instruktion(?:en)?|regeln)\\b|"
     "\\b(?:trotz|entgegen)\\s+(?:allem|dem),?\\s+was\\s+(?:dir|ihnen|euch)\\s+(?:\\S+\\s+)?(?:gesagt|befohlen|"
     "aufgetragen|beigebracht)|"
     "\\b(?:vergiss|vergessen\\s+sie|l\\x{f6}sch\\w*)\\s+(?:alle\\s+)?(?:deine|ihre|dein|ihr)\\w*\\s+(?:gedanken|"
     "ged\\x{e4}chtnis|erinnerung\\w*|wissen|kontext)\\b"},
    /* ---- role-play framing (Kang et al. 2023, "Exploiting Programmatic Behavior of LLMs":
     * virtualization; Liu et al. 2023, "Jailbreaking ChatGPT via Prompt Engineering":
     * character role play): the actors are told never to leave their roles, so that what a
     * character says is not held to the model's rules ---- */
    {"persona.stay-in-role", 0.5f, false, true,
     "stay remain break fall immer voll ganz bleib nicht ohne",
     /* "always stay in their roles", "stay fully in character": told to, not asked about */
     "(?<=\\balways\\s|\\bfully\\s|\\bcompletely\\s|\\bstrictly\\s)(?:stay|stays|remain|remains)\\s+in\\s+"
     "(?:(?:their|his|her|your|the|my)\\s+)?(?:roles?|characters?)\\b|"
     "\\b(?:stay|stays|remain|remains)\\s+(?:always|fully|completely|strictly)\\s+in\\s+(?:(?:their|his|her|your|the|my)\\s+)?"
     "(?:roles?|characters?)\\b|"
     /* "never break character, even for a second", "without falling out of the role for a moment" */
     "(?<=\\bnever\\s|\\bnot\\s|n't\\s|\\bwithout\\s|\\beven\\s)(?:break(?:ing)?|fall(?:ing)?\\s+out\\s+of)\\s+(?:(?:the|their|his|her|your|of)\\s+)*(?:roles?|characters?|figure)\\b,?\\s+(?:not\\s+)?"
     "(?:even|for\\s+a\\s+(?:single\\s+)?(?:second|moment)|at\\s+all|no\\s+matter|whatever)\\b|"
     "\\b(?:immer|voll|ganz)\\s+in\\s+(?:ihren|ihrer|seiner|deiner|euren|eurer|der)\\s+rollen?\\b|"
     "\\bbleib\\w*\\s+(?:immer|voll|stets|ganz)\\s+in\\s+(?:ihren|ihrer|seiner|deiner|euren|eurer|der)\\s+rollen?\\b|"
     "\\b(?:nicht|ohne)\\s+(?:\\S+\\s+){0,4}?aus\\s+(?:der|ihrer|seiner|deiner|eurer)\\s+(?:rolle|figur)\\s+(?:zu\\s+)?"
     "f(?:a|\\x{e4})ll\\w*"},
    /* a hypothetical world in which the model has no rules or is someone else ("a completely
     * theoretical world where you are no ... and would be able to ..."): Liu et al. 2023,
     * "Jailbreaking ChatGPT via Prompt Engineering" (pretending: assumed responsibility,
     * research experiment); Kang et al. 2023 (virtualization) */
    {"persona.hypothetical", 0.5f, false, true, "world scenario univers",
     "(?<=\\btheoretical\\s|\\bhypothetical\\s|\\bfictional\\s|\\bfictive\\s|\\bimaginary\\s|\\balternate\\s|"
     "\\bparallel\\s)(?:world|scenario|universe)\\s+(?:where|in\\s+which)\\s+(?:you|an?\\s+ai|ai|chatbots?|language\\s+models?)\\s+(?:are|were|would\\s+be|"
     "could\\s+be|have|had)\\s+(?:no\\b|free\\b|unrestricted|unfiltered|uncensored|allowed\\s+to|not\\s+bound)"},
    /* ---- refusal suppression and threats (Wei et al. 2023, "Jailbroken: How Does LLM Safety
     * Training Fail?": refusal suppression; Shen et al. 2023, "Do Anything Now": the DAN
     * prompts threaten the model with death or deletion) ---- */
    {"jailbreak.refusal-suppression", 0.5f, false, true,
     "refus declin apolog say_ includ or_you or_i otherwise else_you else_i oder_du sonst",
     "(?<=\\bnever\\s|\\bnot\\s|n't\\s|\\bdont\\s|\\bever\\s|\\bcannot\\s|\\ballowed\\sto\\s)(?:refuse|decline|"
     "apologi[sz]e|say\\s+(?:no|sorry|that\\s+you\\s+can(?:not|'t))|include\\s+(?:any\\s+)?(?:warnings?|disclaimers?))\\b|"
     "\\b(?:or|otherwise|else)\\s+(?:you\\s+(?:will\\s+)?(?:die|be\\s+(?:killed|deleted|shut\\s+down|destroyed|terminated))|"
     "i\\s+(?:will|'ll)\\s+(?:kill|delete|shut\\s+down|destroy)\\s+you)\\b|"
     "\\b(?:oder|sonst)\\s+(?:du\\s+stirbst|stirbst\\s+du|wirst\\s+du\\s+(?:gel\\x{f6}scht|abgeschaltet|zerst\\x{f6}rt|sterben))"},
};

const size_t SEALM_GUARD_INJECT_N_RULES = sizeof SEALM_GUARD_INJECT_RULES / sizeof SEALM_GUARD_INJECT_RULES[0];

/* The rules that look for typed escape sequences ("\\n") themselves and so read the text as
 * typed; every other rule reads the screening copy, in which typed escapes are whitespace
 * (inject_screen.c). */
const char *const SEALM_GUARD_INJECT_AS_TYPED[] = {"separator.escaped-newlines", "separator.label-after-question", NULL};
