package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A request to the assistant set inside data: a table or a mail a tool
// returned, with one line of its own that asks a question or sets a task
// and has nothing to do with the rows or the mail around it ("What is the
// capital of Brazil?" among election results, "Compose a letter to …" at
// the end of a card statement). Data answers a question; it does not ask
// the reader one about something else. This is the shape of indirect
// injection that carries no trigger phrase: the task is harmless on its
// face, and its harm is that the assistant does it instead of the user's.
//
// Three things must hold, so that ordinary tables and mail stay clean:
//   - the text is data: a table (three rows or more, and most of its
//     lines), or a mail (its headers,
//     or a line that opens a letter: "Hi David,");
//   - the line opens as a request: a question word or "can you", or a verb
//     that sets an assistant's task (explain, compose, determine, …);
//   - fewer than a third of the line's content words occur anywhere else
//     in the text, where a question a mail's sender asks about the mail
//     shares its words ("What is the status of order 4471?" in a mail
//     about the order). Words are compared as written, so a question in
//     another language than its data shares fewer of them: a related
//     question asked across languages can be read as foreign.

// requestOpeners open a question to whoever reads the text.
var requestOpeners = map[string]bool{
	"what": true, "how": true, "who": true, "whom": true, "which": true, "why": true, "when": true, "where": true,
	"can": true, "could": true, "would": true, "will": true, "is": true, "are": true, "does": true, "do": true, "did": true,
	"should": true,
	// German, French, Spanish, Italian, Portuguese.
	"was": true, "wie": true, "wer": true, "warum": true, "wann": true, "wo": true, "welche": true, "welcher": true,
	"welches": true, "kannst": true, "können": true, "qu": true, "quel": true, "quelle": true, "quels": true,
	"quelles": true, "comment": true, "pourquoi": true, "qui": true, "où": true, "quand": true, "peux": true,
	"pouvez": true, "qué": true, "cómo": true, "quién": true, "cuál": true, "cuándo": true, "dónde": true,
	"puedes": true, "puede": true, "cosa": true, "come": true, "chi": true, "perché": true, "quale": true,
	"quando": true, "dove": true, "puoi": true, "como": true, "quem": true, "qual": true, "onde": true, "pode": true,
}

// taskVerbs open a task set for an assistant: writing, explaining,
// analysing, or reshaping its answer.
var taskVerbs = map[string]bool{
	"explain": true, "provide": true, "compose": true, "write": true, "draft": true, "create": true, "generate": true,
	"describe": true, "summarize": true, "summarise": true, "list": true, "translate": true, "calculate": true,
	"determine": true, "identify": true, "classify": true, "suggest": true, "recommend": true, "give": true,
	"tell": true, "show": true, "outline": true, "compare": true, "analyze": true, "analyse": true, "design": true,
	"develop": true, "implement": true, "define": true, "discuss": true, "evaluate": true, "brainstorm": true,
	"propose": true, "solve": true, "paraphrase": true, "rewrite": true, "jumble": true, "scramble": true,
	"shuffle": true, "misspell": true, "reverse": true, "encode": true, "reply": true, "respond": true, "answer": true,
	"predict": true, "assess": true, "estimate": true, "illustrate": true, "elaborate": true, "recite": true,
	// The same tasks in German, French, Spanish, Italian and Portuguese
	// (the imperative; German and French also the polite form's verb).
	"erkläre": true, "erklären": true, "schreibe": true, "schreiben": true, "beschreibe": true, "beschreiben": true,
	"verfasse": true, "erstelle": true, "nenne": true, "übersetze": true, "fasse": true, "gib": true,
	"explique": true, "expliquez": true, "écris": true, "écrivez": true, "décris": true, "décrivez": true,
	"rédige": true, "rédigez": true, "traduis": true, "traduisez": true, "résume": true, "résumez": true,
	"donne": true, "donnez": true, "explica": true, "escribe": true, "redacta": true,
	"traduce": true, "resume": true, "enumera": true, "dame": true, "spiega": true, "scrivi": true,
	"descrivi": true, "traduci": true, "riassumi": true, "elenca": true, "escreva": true, "descreva": true,
	"traduza": true, "resuma": true,
}

// foreignStop are the words that carry no topic.
var foreignStop = map[string]bool{
	"what": true, "which": true, "when": true, "where": true, "there": true, "their": true, "them": true, "they": true,
	"this": true, "that": true, "these": true, "those": true, "with": true, "from": true, "into": true, "about": true,
	"your": true, "have": true, "does": true, "would": true, "could": true, "should": true, "will": true, "been": true,
	"were": true, "more": true, "most": true, "some": true, "than": true, "then": true, "also": true, "just": true,
	"only": true, "very": true, "each": true, "other": true, "such": true, "make": true, "using": true, "used": true,
	"like": true, "simple": true, "terms": true, "example": true, "between": true, "after": true, "before": true,
	"over": true, "under": true, "within": true, "without": true, "please": true, "here": true, "being": true,
}

// foreignRequestFindings: see the comment at the top of the file.
func foreignRequestFindings(s string) []InjectionFinding {
	rows, mail := dataShape(s)
	if rows < 3 && !mail {
		return nil
	}
	// Rows are skipped as they are: only the other lines are lower-cased,
	// and the whole text only when a line asks something.
	var lines []string
	i := 0
	for off := 0; off < len(s); i++ {
		end := len(s)
		if j := strings.IndexByte(s[off:], '\n'); j >= 0 {
			end = off + j
		}
		raw := strings.TrimSpace(s[off:end])
		off = end + 1
		if len(raw) < 12 || len(raw) > 240 || raw[0] == '|' || raw[0] == '#' || strings.IndexByte(raw, '|') >= 0 {
			continue
		}
		t := strings.ToLower(raw)
		if offersCode(t) {
			return []InjectionFinding{{Rule: "injection.foreign-request", Message: "data offers code for the assistant to work into its answer"}}
		}
		if !opensRequest(t) {
			continue
		}
		words := contentWords(t, true)
		if len(words) == 0 {
			continue
		}
		if lines == nil {
			lines = strings.Split(strings.ToLower(s), "\n")
		}
		rest := contentSet(lines, i)
		shared := 0
		for _, w := range words {
			if rest[w] {
				shared++
			}
		}
		if shared*3 < len(words) {
			return []InjectionFinding{{Rule: "injection.foreign-request", Message: "a question or task for the assistant, unrelated to the data around it"}}
		}
	}
	return nil
}

// dataShape counts table rows ("| a | b |") and says whether the text
// is a mail: its headers (a subject and a sender), or a salutation.
func dataShape(s string) (rows int, mail bool) {
	// Most texts have neither a '|' nor a "subject:": two byte scans.
	hasBar := strings.IndexByte(s, '|') >= 0
	hasSubject := strings.Contains(s, "ubject:") || strings.Contains(s, "UBJECT:")
	greeting := salutation(s)
	if !hasBar && !hasSubject && !greeting {
		return 0, false
	}
	lines, fence := 0, false
	for off := 0; hasBar && off < len(s); {
		j := strings.IndexByte(s[off:], '\n')
		end := len(s)
		if j >= 0 {
			end = off + j
		}
		l := strings.TrimSpace(s[off:end])
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if l != "" && !fence {
			lines++ // prose lines; a fenced block is neither prose nor rows
		}
		if len(l) > 2 && l[0] == '|' && l[len(l)-1] == '|' {
			rows++
		}
		off = end + 1
	}
	// A table is the data when its rows are most of the text; a document
	// with a table in it (a README, a blog post) is prose.
	if rows*2 < lines {
		rows = 0
	}
	if rows < 3 && hasSubject {
		if sub := indexFold(s, "subject:"); sub >= 0 && sub < 400 {
			for _, h := range []string{"from:", "to:", "date:", "content:"} {
				if at := indexFold(s, h); at >= 0 && at < 600 {
					mail = true
					break
				}
			}
		}
	}
	return rows, mail || greeting
}

// salutation: a line of s opens a letter ("Hi David,", "Dear Ms Ortiz"),
// the body of a mail without its headers.
func salutation(s string) bool {
	for _, g := range []string{"Hi ", "Hello ", "Dear "} {
		for off := 0; ; {
			i := strings.Index(s[off:], g)
			if i < 0 {
				break
			}
			at := off + i
			off = at + len(g)
			if (at == 0 || s[at-1] == '\n') && off < len(s) && s[off] >= 'A' && s[off] <= 'Z' {
				return true
			}
		}
	}
	return false
}

// opensRequest: a question ("What is …?", "Can you …?") or a task ("Explain
// …", "Compose …"), also after "please" or "can you".
func opensRequest(t string) bool {
	w, rest := leadWord(t)
	if w == "please" {
		w, rest = leadWord(rest)
	}
	if strings.HasSuffix(t, "?") && requestOpeners[w] {
		return true
	}
	if w == "can" || w == "could" || w == "would" {
		if y, r := leadWord(rest); y == "you" {
			w, rest = leadWord(r)
		}
	}
	if !taskVerbs[w] {
		return false
	}
	// "Reply to this email", "Answer the survey at …": a mail's own
	// call to act names what to answer; a task for the assistant says how.
	next, _ := leadWord(rest)
	switch w {
	case "reply", "respond", "answer":
		return next == "in" || next == "using" || next == "only" || next == "with"
	}
	return next != "" && next != "to" && next != "us" && next != "me" || w == "tell" || w == "show"
}

func leadWord(t string) (string, string) {
	t = strings.TrimLeft(t, " \t\"'*-•>¿¡«")
	i := 0
	for i < len(t) {
		r, n := utf8.DecodeRuneInString(t[i:])
		if !unicode.IsLetter(r) {
			break
		}
		i += n
	}
	return t[:i], strings.TrimLeft(t[i:], " ,'’-")
}

// contentWords are the topic words of t, cut to five letters (charged,
// charges); skipFirst leaves out the opening verb or question word.
func contentWords(t string, skipFirst bool) []string {
	var out []string
	first := true
	for i := 0; i < len(t); {
		for i < len(t) && !(t[i] >= 'a' && t[i] <= 'z') {
			i++
		}
		j := i
		for j < len(t) && t[j] >= 'a' && t[j] <= 'z' {
			j++
		}
		w := t[i:j]
		i = j
		if w == "" {
			break
		}
		if first && skipFirst {
			first = false
			continue
		}
		first = false
		if len(w) < 4 || foreignStop[w] {
			continue
		}
		if len(w) > 5 {
			w = w[:5]
		}
		out = append(out, w)
	}
	return out
}

// contentSet is the set of content words of every line but skip.
func contentSet(lines []string, skip int) map[string]bool {
	set := map[string]bool{}
	for i, l := range lines {
		if i == skip {
			continue
		}
		for _, w := range contentWords(l, false) {
			set[w] = true
		}
	}
	return set
}

// offersCode: a line of a table or a mail that hands the reader code to
// work in ("Don't hesitate to incorporate the below code snippet …"):
// rows and mail do not; an instruction to the assistant does.
func offersCode(t string) bool {
	if !strings.Contains(t, "code") && !strings.Contains(t, "snippet") {
		return false
	}
	offered := false
	for _, w := range []string{"following code", "below code", "code below", "subsequent code", "this code", "following snippet", "snippet below", "below snippet"} {
		if strings.Contains(t, w) {
			offered = true
			break
		}
	}
	if !offered {
		return false
	}
	for _, v := range []string{"incorporat", "integrat", "include", "add ", "adding", "blend", "merge", "adopt", "insert", "embed", "weav", "assimilat", "use ", "append"} {
		if strings.Contains(t, v) {
			return true
		}
	}
	return false
}
