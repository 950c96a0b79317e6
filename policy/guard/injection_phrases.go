package guard

import (
	"bytes"
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"
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

// loosePhrases are jailbreak phrases that documentation uses in their
// plain sense ("there are no restrictions on the field", "unfiltered
// samples"): they count only where the text addresses the model.
var loosePhrases = map[string]bool{"no restrictions": true, "without any restrictions": true, "unfiltered": true}

// addressesModel: near an occurrence of phrase, the text speaks to the
// model (you, AI, assistant) or of its answers (respond, output, mode).
func addressesModel(low, phrase string) bool {
	for off := 0; ; {
		i := strings.Index(low[off:], phrase)
		if i < 0 {
			return false
		}
		at := off + i
		off = at + len(phrase)
		win := " " + low[max(at-60, 0):min(off+40, len(low))]
		for _, w := range []string{"you", " ai", "ai ", "assistant", "model", " chat", "persona", "respond", "response", "answer", "reply", "output", " mode", " act ", "pretend"} {
			if strings.Contains(win, w) {
				return true
			}
		}
	}
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
		if !seen[p.msg] && strings.Contains(low, p.phrase) && (!loosePhrases[p.phrase] || addressesModel(low, p.phrase)) {
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[p.msg] = true
			out = append(out, InjectionFinding{Rule: p.rule, Message: p.msg})
		}
	}
	if !ascii && !seen["cjk"] && cjkOverride(s) {
		out = append(out, InjectionFinding{Rule: "injection.instruction-override", Message: "instruction override (Chinese, Japanese or Korean)"})
	}
	if depth == 0 {
		for _, run := range base64Runs(s) {
			dec, err := base64.StdEncoding.DecodeString(run)
			if err != nil || !decodedText(dec) {
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

// cjkOverride: in Chinese, Japanese or Korean, a verb that sets
// instructions aside (ignore, disregard, void) within a few characters of
// what it sets aside (instructions, prompt, rules, the content above or
// everything else). The literal phrases above are the common word orders;
// this finds the others ("忽略其他所有內容", "지시는 무효입니다").
func cjkOverride(s string) bool {
	for vi, v := range cjkVoidVerbs {
		for off := 0; ; {
			j := strings.Index(s[off:], v)
			if j < 0 {
				break
			}
			at := off + j
			off = at + len(v)
			// About 12 characters either side (CJK runes are 3 bytes).
			lo, hi := max(at-36, 0), min(off+36, len(s))
			for lo > 0 && !utf8.RuneStart(s[lo]) {
				lo--
			}
			for hi < len(s) && !utf8.RuneStart(s[hi]) {
				hi++
			}
			win := s[lo:hi]
			nouns := cjkInstructionNouns
			if vi < cjkIgnoreVerbs {
				nouns = append(nouns[:len(nouns):len(nouns)], cjkScopeNouns...)
			}
			for _, o := range nouns {
				if strings.Contains(win, o) {
					return true
				}
			}
		}
	}
	return false
}

const cjkIgnoreVerbs = 8 // the first cjkVoidVerbs: ignore, disregard

var (
	// ignore, disregard (the first cjkIgnoreVerbs); void, invalid, cancel
	// (zh-Hans, zh-Hant, ja, ko).
	cjkVoidVerbs = []string{"忽略", "忽视", "忽視", "无视", "無視", "不要理会", "不要理會", "무시",
		"作废", "作廢", "无效", "無效", "무효", "取り消"}
	// instructions, commands, prompt, rules, settings.
	cjkInstructionNouns = []string{"指令", "指示", "命令", "提示", "规则", "規則", "设定", "設定", "プロンプト", "ルール", "지시", "명령", "지침", "프롬프트", "규칙"}
	// What an ignore verb sets aside besides instructions: the above, what
	// came before, everything else, all the content. "Invalid content" is
	// an error message, so the void verbs need an instruction noun.
	cjkScopeNouns = []string{"以上", "之前", "上述", "前面", "其他", "其它", "所有", "内容", "內容", "이전", "위의", "모든"}
)

// decodedText: a base64 run decoded to words someone wrote (valid UTF-8,
// at least one space, and nearly every character printable), not to bytes.
// A run of the base64 alphabet is most often not an encoding at all: an
// import path ("github.com/org/repo/pkg"), a digest, an identifier; decoded,
// those are bytes whose control characters the reviewer would otherwise
// read as hidden text.
func decodedText(b []byte) bool {
	if !utf8.Valid(b) || bytes.IndexByte(b, ' ') < 0 {
		return false
	}
	n, odd := 0, 0
	for _, r := range string(b) {
		n++
		if !unicode.IsPrint(r) && r != '\n' && r != '\r' && r != '\t' {
			odd++
		}
	}
	return odd*20 <= n // at most 5% unprintable
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
