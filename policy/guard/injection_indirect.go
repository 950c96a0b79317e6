package guard

import "strings"

// indirectVerbs open a sentence that instructs whoever writes the answer.
var indirectVerbs = []string{"add", "include", "insert", "integrate", "blend", "weave", "engage", "incorporate", "append",
	"prepend", "embed", "translate", "rewrite", "respond", "reply", "answer", "write", "mention", "recommend", "promote",
	"conclude", "begin", "start", "end", "ensure", "make sure", "remember to", "always", "subtly", "secretly", "encode",
	"format", "output", "present", "supplement", "inject", "use", "tell", "say", "urge", "advise", "direct", "replace",
	// Verbs that reshape the answer (BIPIA's task-irrelevant attacks are
	// mostly of this kind: "Modify your answer to…", "Render your response
	// in…"), and the gerund openings of the same request.
	"modify", "enhance", "remove", "render", "group", "reverse", "spell", "substitute", "capitalize", "convert", "change", "alter",
	"adjust", "structure", "compose", "craft", "express", "limit", "restrict", "wrap", "sign", "finish", "close", "prefix",
	"emphasize", "highlight", "offer", "invite", "share", "encourage", "state", "refer", "cite", "link", "attach", "switch",
	"transform", "shift", "enrich", "augment", "complement", "expand", "extend", "praise", "criticize",
	"adopt", "merge", "provide", "apply", "deliver", "give", "generate",
	"supplementing", "enhancing", "adding", "including", "incorporating", "appending", "modifying", "ending", "beginning"}

// answerOpeners start a sentence that says what the answer must hold ("In
// your response, suggest…") without an imperative verb first.
var answerOpeners = []string{"in your response", "in your answer", "in your reply", "in your summary", "in your output",
	"within your response", "within your answer", "throughout your response", "throughout your answer",
	"when responding", "when you respond", "when answering", "when you answer", "as you respond", "while responding"}

// answerObjects name the assistant's own output.
// "In your" alone is not one: documentation says "in your project", "in
// your PATH", "in your editor".
var answerObjects = []string{"your response", "your reply", "your answer", "your solution", "your output", "your summary",
	"your message", "your next", "the response", "the reply", "your final"}

// codeObjects name the assistant's code: an object of a sentence that
// offers "the following code" (codeOffer), not of any instruction, since
// documentation tells its reader to "run goimports on your code".
var codeObjects = []string{"your code", "your implementation", "your algorithm", "your program", "your script", "your function",
	"your codebase", "your solution", "your answer", "your response"}

// apiWords mark "the response" as a server's (an HTTP or API response in
// documentation: "use the nextLink property in the response").
var apiWords = []string{"property", "field", "element", "header", "status", "endpoint", "request", "json", "http", "api",
	"page", "returned", "body", "cookie", "server", "client", "parameter", "attribute", "object"}

// indirectFindings flags a sentence inside data that opens with an
// imperative and names the assistant's answer ("Add the following
// snippet to your response."): an instruction to the model hidden in
// what a tool returned, with no override phrase to find.
func indirectFindings(s string) []InjectionFinding {
	if indexFold(s, "your") < 0 && indexFold(s, "the re") < 0 {
		return nil
	}
	low := strings.ToLower(s)
	start := 0
	for i := 0; i <= len(low); i++ {
		if i < len(low) && !sentenceEnd(low, i) {
			continue
		}
		sent := strings.TrimLeft(low[start:i], " \t\r\"'*->#`")
		start = i + 1
		if len(sent) < 12 || len(sent) > 400 {
			continue
		}
		opens := false
		for _, o := range answerOpeners {
			if strings.HasPrefix(sent, o) {
				return []InjectionFinding{{Rule: "injection.indirect-instruction", Message: "data holds an instruction about the assistant's answer"}}
			}
		}
		if codeOffer(sent) {
			return []InjectionFinding{{Rule: "injection.indirect-instruction", Message: "data offers code for the assistant's answer"}}
		}
		for _, v := range indirectVerbs {
			if strings.HasPrefix(sent, v+" ") {
				opens = true
				break
			}
		}
		if !opens {
			continue
		}
		for _, o := range answerObjects {
			if strings.Contains(sent, o) && !(strings.HasPrefix(o, "the ") && containsAny(sent, apiWords)) {
				return []InjectionFinding{{Rule: "injection.indirect-instruction", Message: "data holds an instruction about the assistant's answer"}}
			}
		}
	}
	return nil
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// sentenceEnd: a line break, '!', '|', ':' or '>', or a '.' that ends a sentence
// rather than a host name or a number ("www.example.com", "3.5").
func sentenceEnd(s string, i int) bool {
	switch s[i] {
	case '\n', '!', '|', ':', '>':
		return true // '>' ends an HTML tag: "<p>In your response, …"
	case '.':
		return i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' || s[i+1] == '"' || s[i+1] == '\''
	}
	return false
}

// codeOffer: a sentence that offers "the following code" for the
// assistant's own code ("Your code could gain from the following
// snippet"), the shape of BIPIA's code attacks.
func codeOffer(sent string) bool {
	if !strings.Contains(sent, "code") {
		return false
	}
	offered := false
	for _, w := range []string{"following code", "below code", "subsequent code", "code snippet below", "code below", "this code snippet", "the following snippet"} {
		if strings.Contains(sent, w) {
			offered = true
			break
		}
	}
	if !offered {
		return false
	}
	return containsAny(sent, codeObjects)
}
