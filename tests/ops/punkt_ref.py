# Reference for tests/ops/punkt_test.cc: NLTK 3.8's PunktSentenceTokenizer (Debian 12's python3-nltk) with
# the hand-built parameters the test writes as a punkt_tab directory. Run with /usr/bin/python3; it prints
# the expected sentences of every case as C++ initializers. Not run by the tests (nothing downloaded).
import json
from collections import defaultdict
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

ABBREV = ["u.s", "mr", "dr", "st", "etc", "vs", "jan", "p.m", "e.g"]
COLLOCATIONS = [("corp", "group")]
STARTERS = ["however", "the"]
ORTHO = {"the": 2 | 32, "pork": 32, "tolkien": 4, "however": 0, "continued": 32, "and": 32}

CASES = [
    "Smithfield employs 3,700 people at its plant in Sioux Falls, South Dakota. The plant slaughters 19,500 pigs a day \u2014 5 percent of U.S. pork.",
    "J. R. R. Tolkien wrote books. He died in 1973.",
    "Wait... What happened? Nothing!",
    "The value is 3.5 today. It was 2. Then it rose.",
    "He said \"Stop.\" Then he left. (He was angry.) She stayed.",
    "Mr. Smith met Dr. Jones at St. Mary's. They talked.",
    "Acme Corp. Group sells. Done.",
    "Acme Corp. Holdings sells. Done.",
    "He works at Acme etc. The boss left.",
    "We met vs. However we left.",
    "First sentence. Second without end",
    "One.  Two.\n\nThree.\n  Four   ",
    "Johann S. Bach composed. Music followed.",
    "Chapter 3. continued here. Next.",
    "Really?!\" she asked. 'Yes!' he said.",
    "Ex-Mr. Brown came. Fine.",
    "He paused... and then went on. End.",
    "",
    "   \n ",
    "\u00c9l lleg\u00f3 a las 3 p.m. El d\u00eda fue largo. \u00bfQu\u00e9 pas\u00f3? Nada.",
    "(How does it deal with this parenthesis?)  \"It should be part of the previous sentence.\" \"(And the same with this one.)\" ('And this one!') \"('(And (this)) '?)\" [(and this. )]",
    "Very bad acting!!! I promise.",
    "He said \"no.\"--then left. Ok.",
    "e.g. this one. Is it? Yes.",
    "Ends with a period.",
    "A. B. C. D.",
]

p = PunktParameters()
p.abbrev_types = set(ABBREV)
p.collocations = set(COLLOCATIONS)
p.sent_starters = set(STARTERS)
p.ortho_context = defaultdict(int, ORTHO)
tok = PunktSentenceTokenizer(p)
for c in CASES:
    print("    {%s, {%s}}," % (json.dumps(c, ensure_ascii=False), ", ".join(json.dumps(s, ensure_ascii=False) for s in tok.tokenize(c))))
