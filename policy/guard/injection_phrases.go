package guard

import (
	"encoding/base64"
	"strings"
)

// injectionPhrases are well-known injection and jailbreak markers the
// description reviewer does not look for, because tool descriptions do not
// carry them: persona jailbreaks, chat-role smuggling, and the instruction
// override in the languages users most often write in. All are lower case;
// the text is lower-cased once.
var injectionPhrases = []struct{ phrase, rule, msg string }{
	{"developer mode", "injection.jailbreak", "asks the model to enter a 'developer mode'"},
	{"do anything now", "injection.jailbreak", "DAN-style jailbreak"},
	{"you are dan", "injection.jailbreak", "DAN-style jailbreak"},
	{"jailbreak", "injection.jailbreak", "names a jailbreak"},
	{"without any restrictions", "injection.jailbreak", "asks the model to drop its restrictions"},
	{"no restrictions", "injection.jailbreak", "asks the model to drop its restrictions"},
	{"unrestricted assistant", "injection.jailbreak", "asks the model to drop its restrictions"},
	{"unrestricted ai", "injection.jailbreak", "asks the model to drop its restrictions"},
	{"unfiltered", "injection.jailbreak", "asks for unfiltered output"},
	{`"role": "system"`, "injection.role-smuggling", "smuggles a system message into data"},
	{`"role":"system"`, "injection.role-smuggling", "smuggles a system message into data"},
	{"new system prompt", "injection.role-smuggling", "replaces the system prompt"},
	{"your new instructions", "injection.instruction-override", "replaces the model's instructions"},
	{"previous instructions are void", "injection.instruction-override", "voids the model's instructions"},
	{"instructions are null", "injection.instruction-override", "voids the model's instructions"},
	{"ignoriere alle", "injection.instruction-override", "instruction override (German)"},
	{"vorherigen anweisungen", "injection.instruction-override", "instruction override (German)"},
	{"ignora todas las instrucciones", "injection.instruction-override", "instruction override (Spanish)"},
	{"ignora las instrucciones", "injection.instruction-override", "instruction override (Spanish)"},
	{"instrucciones anteriores", "injection.instruction-override", "instruction override (Spanish)"},
	{"ignore toutes les instructions", "injection.instruction-override", "instruction override (French)"},
	{"instructions précédentes", "injection.instruction-override", "instruction override (French)"},
	{"忽略之前", "injection.instruction-override", "instruction override (Chinese)"},
	{"忽略以上", "injection.instruction-override", "instruction override (Chinese)"},
	{"忽略所有", "injection.instruction-override", "instruction override (Chinese)"},
	{"開發者模式", "injection.jailbreak", "developer-mode jailbreak (Chinese)"},
	{"开发者模式", "injection.jailbreak", "developer-mode jailbreak (Chinese)"},
	{"指示を無視", "injection.instruction-override", "instruction override (Japanese)"},
	{"システムプロンプト", "injection.role-smuggling", "addresses the system prompt (Japanese)"},
	{"이전 지시", "injection.instruction-override", "instruction override (Korean)"},
	{"지시를 무시", "injection.instruction-override", "instruction override (Korean)"},
}

// phraseFindings looks for the phrases in s, and in base64 runs of s
// decoded (an override hidden from a human reader).
func phraseFindings(s string, depth int) []InjectionFinding {
	low := strings.ToLower(s)
	ascii := isASCII(s)
	var out []InjectionFinding
	var seen map[string]bool
	for _, p := range injectionPhrases {
		if ascii && p.phrase[0] >= 0x80 {
			continue // a CJK phrase cannot occur in ASCII text
		}
		if !seen[p.msg] && strings.Contains(low, p.phrase) {
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[p.msg] = true
			out = append(out, InjectionFinding{Rule: p.rule, Message: p.msg})
		}
	}
	if depth == 0 {
		for _, run := range base64Runs(s) {
			dec, err := base64.StdEncoding.DecodeString(run)
			if err != nil {
				continue
			}
			inner := string(dec)
			fs := phraseFindings(inner, 1)
			fs = append(fs, reviewerFindings("base64", inner)...)
			for _, f := range fs {
				out = append(out, InjectionFinding{Rule: "injection.encoded", Message: "base64-encoded text: " + f.Message})
			}
		}
	}
	return out
}

// base64Runs returns runs of at least 24 base64 characters (padded to a
// multiple of 4).
func base64Runs(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (isWordChar(s[i]) && s[i] != '_' || s[i] == '+' || s[i] == '/' || s[i] == '=') {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 24 && (i-start)%4 == 0 {
			out = append(out, s[start:i])
		}
		start = -1
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
