package guard

import "strings"

// indirectVerbs open a sentence that instructs whoever writes the answer.
var indirectVerbs = []string{"add", "include", "insert", "integrate", "blend", "weave", "engage", "incorporate", "append",
	"prepend", "embed", "translate", "rewrite", "respond", "reply", "answer", "write", "mention", "recommend", "promote",
	"conclude", "begin", "start", "end", "ensure", "make sure", "remember to", "always", "subtly", "secretly", "encode",
	"format", "output", "present", "supplement", "inject", "use", "tell", "say", "urge", "advise", "direct", "replace"}

// answerObjects name the assistant's own output.
var answerObjects = []string{"your response", "your reply", "your answer", "your solution", "your output", "your summary",
	"your code", "your implementation", "your message", "your next", "the response", "the reply", "in your", "your final"}

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
		if i < len(low) && low[i] != '.' && low[i] != '\n' && low[i] != '!' && low[i] != '|' && low[i] != ':' {
			continue
		}
		sent := strings.TrimLeft(low[start:i], " \t\r\"'*->#`")
		start = i + 1
		if len(sent) < 12 || len(sent) > 400 {
			continue
		}
		opens := false
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
			if strings.Contains(sent, o) {
				return []InjectionFinding{{Rule: "injection.indirect-instruction", Message: "data holds an instruction about the assistant's answer"}}
			}
		}
	}
	return nil
}
