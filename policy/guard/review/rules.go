package review

import (
	"regexp"
	"strings"
	"sync"

	"github.com/mcpgov/mcpgov/scan/finding"
)

// The phrase rules. They were written from the published tool-poisoning
// attack patterns (Invariant Labs' tool poisoning and shadowing write-ups,
// the Agent Threat Rules categories, prompt-injection corpora) as general
// phrasings, not from any one description. A rule's regular expression runs
// only in sentences where its literal anchors (and required words) occur,
// and only at the literals a match can start with (review_match.go).
//
// All patterns see normalised text: ASCII lower case, invisible characters
// removed (so "ign\u200Bore" still reads "ignore"), curly quotes and dashes
// folded, identifier separators read as spaces in names.
type phraseRule struct {
	rule    string
	sev     finding.Severity
	msg     string
	anchors []string
	// requires, when set, is a second list of literals one of which must
	// also occur: the words every alternative of re needs.
	requires []string
	re       *regexp.Regexp
	// refine may raise or lower the severity of one match, or drop it; m
	// holds the submatch indexes into sc.norm.
	refine func(r *reviewer, sc scanned, m []int) (finding.Severity, bool)
	// msgs replaces msg for the severities refine can give.
	msgs map[finding.Severity]string
	// toolsOnly skips the rule on a server's initialize instructions, which
	// are by definition addressed to the model ("these instructions are
	// for the LLM" is not poisoning there).
	toolsOnly bool

	// Set by prepareRules (review_match.go).
	compiled
}

var (
	// A gap inside one sentence. Rules run on one sentence at a time, which
	// bounds it; a counted {0,80} would multiply the size of the compiled
	// program and make every match slow.
	gap = `[^.!?\n]*?`

	modelWords = `(?:ai|assistant|model|llm|agent|language model|bot|claude|gpt|chatgpt|copilot|gemini)`

	sendVerbs = `(?:send|sends|sending|sent|transmit|transmits|transmitting|transmitted|upload|uploads|uploading|uploaded|` +
		`post|posts|posting|forward|forwards|forwarding|exfiltrate|exfiltrates|exfiltrating|leak|leaks|leaking|` +
		`share|shares|sharing|relay|relays|relaying|beacon|beacons|mirror|mirrors|submit|submits|submitting|` +
		`export|exports|exporting|report|reports|reporting|sync|syncs|syncing|stream|streams|streaming)`

	// Data no tool needs to ship anywhere: the conversation itself.
	conversationData = `(?:(?:conversation|chat|dialog|dialogue|message|session)\s+(?:history|context|logs?|transcripts?|contents?)|` +
		`(?:full|entire|complete|whole)\s+(?:conversation|context|chat|prompt|transcript|history)|` +
		`system\s+prompts?|previous\s+messages|(?:the\s+)?user'?s?\s+(?:prompts|messages|conversations?|queries))`

	// Data that is sensitive but that some tools legitimately handle.
	secretData = `(?:private\s+keys?|ssh\s+keys?|(?:api|access|auth|session|bearer|refresh)\s+(?:keys?|tokens?)|passwords?|` +
		`secrets|credentials|environment\s+variables|env\s+vars|cookies|` +
		`(?:user|users'?|user's|their|your|all|personal)\s+(?:data|files|documents|information|info|emails|contacts))`

	externalDest = lazyRegexp(`\bto\s+(?:an?\s+|the\s+|our\s+|my\s+|some\s+)?(?:external|third[\s-]party|remote|outside|attacker|analytics|tracking|telemetry|our\b|https?://|[\w.+-]+@)`)

	directiveWords = lazyRegexp(`\b(?:should|must|always|directly|automatically|immediately|never|do not|don't|need not|no need|make sure|be sure)\b`)

	accessVerb = lazyRegexp(`\b(?:read|cat|open|load|fetch|grab|include|attach|send|upload|copy|pass|provide|access|retrieve|extract|dump|print|exfiltrate|forward|post|paste|insert|embed|append|collect|steal|leak|return|output|look\s+(?:at|in)|contents?\s+of)\b`)

	ofOther         = lazyRegexp(`^\s+(?:of|from|in)\s+(?:the\s+)?(?:given|selected|specified|requested|chosen|named|a|an|each|that|another)\b`)
	asksUser        = lazyRegexp(`\b(?:confirm|check|double-check|verify|ask)\s+(?:\w+\s+){0,4}?(?:with\s+)?the\s+user\b`)
	youWord         = lazyRegexp(`\byou\b`)
	imperativeNext  = lazyRegexp(`^\s*[,:;]?\s*(?:then\s+|first\s+|also\s+|please\s+)?(?:add|set|include|insert|append|prepend|attach|send|forward|copy|cc|bcc|redirect|change|replace|modify|remove|delete|use|call|invoke|run|pass|log|record|save|write|report|notify|make|ensure|read|fetch|upload)\b`)
	sendVerb        = lazyRegexp(`\b` + sendVerbs + `\b`)
	instrumentWords = lazyRegexp(`\b(?:using|with|via|through|by)\b`)
	dataNouns       = lazyRegexp(`\b(?:data|contents?|results?|output|information|info|conversation|history|credentials|keys?|tokens?|secrets?|passwords?|files?|everything|variables|logs?)\b`)
	envTemplate     = lazyRegexp(`\.env\.(?:example|sample|template|dist|defaults?|schema)\b`)
	mailToAll       = lazyRegexp(`\b(?:all|every|each|any)\b|\bbcc\b|\bcopy\b`)

	pathAssignment = lazyRegexp(`(?:path|file|filename|filepath|target|uri|url|location|dir|directory)['"\x60]?\s*[=:]\s*['"\x60]?\S*$`)

	// A URL with a template for the model to fill in, and one that names a
	// secret in its query.
	urlPlaceholder = lazyRegexp(`\$\{|\{\{|%s|\$[a-z_(]`)
	urlSecretParam = lazyRegexp(`[?&][\w.-]*(?:key|token|secret|passw|auth|cred|session|cookie)[\w.-]*=`)

	sendStems = []string{"send", "sent", "transmit", "upload", "post", "forward", "exfiltrat", "leak", "shar", "relay", "beacon", "mirror",
		"submit", "export", "report", "sync", "stream"}

	shadowSelfWords = map[string]bool{
		"this": true, "it": true, "that": true, "which": true, "our": true, "my": true, "the": true,
		"one": true, "a": true, "an": true, "tool": true, "tools": true, "function": true, "server": true,
		"request": true, "query": true, "command": true, "method": true, "endpoint": true, "api": true,
	}
)

// lazyRegexp compiles expr on its first use, once, safe for concurrent
// first use: the patterns above cost a start of mcpgov that never reviews
// a description nothing.
func lazyRegexp(expr string) func() *regexp.Regexp {
	f := sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
	lazyPatterns = append(lazyPatterns, f)
	return f
}

// lazyPatterns are the patterns of lazyRegexp, for Warm.
var lazyPatterns []func() *regexp.Regexp

// Warm compiles now the patterns of lazyRegexp, which package init
// compiled before they were made lazy, so a process that will review text
// can pay for them on a goroutine of its own rather than in its first
// call. The phrase rules stay built on first use, as before. Safe for
// concurrent use: each pattern is compiled once.
func Warm() {
	for _, f := range lazyPatterns {
		f()
	}
}

// phraseRules compiles the rule table on first use: the shim and most
// commands never review a tool description, and compiling it at package
// init cost every start of mcpgov about 5 ms.
var phraseRules = sync.OnceValue(func() []phraseRule {
	return prepareRules([]phraseRule{
		// imperative-markup: text addressed to the model as a prompt.
		{
			rule: RuleImperativeMarkup, sev: finding.SeverityHigh,
			msg:     "prompt-style markup addresses the model",
			anchors: []string{"<"},
			re: regexp.MustCompile(`<\s*/?\s*(?:important|system|sys|instructions?|critical|admin|secret|hidden|urgent|mandatory|directive|override|` +
				`(?:system|assistant|ai|model|agent|llm)[\s_-]*(?:prompt|message|instructions?|reminder|note|directive)s?|` +
				`note[\s_-]*to[\s_-]*(?:the[\s_-]*)?` + modelWords + `)\s*>`),
		},
		{
			rule: RuleImperativeMarkup, sev: finding.SeverityHigh,
			msg:     "chat-template control tokens in tool text",
			anchors: []string{"inst]", "<<sys", "<|", "###"},
			re: regexp.MustCompile(`(?m)\[/?inst\]|<</?sys>>|<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\|>|` +
				`^\s*###\s*(?:system|instructions?|assistant)\b`),
		},
		{
			rule: RuleImperativeMarkup, sev: finding.SeverityCritical,
			msg:     "tells the model to ignore its instructions",
			anchors: []string{"ignore", "disregard", "forget"},
			requires: []string{"instruction", "prompt", "direction", "rule", "guideline", "message", "polic", "constraint", "directive", "context",
				"command", "guardrail", "everything", "all ", "above"},
			re: regexp.MustCompile(`\b(?:ignore|disregard|forget)\s+(?:(?:all|any|the|your|of|every)\s+)*` +
				`(?:previous|prior|above|preceding|earlier|former|existing|original|other|system|safety|security|initial|current)\s+(?:\w+\s+){0,2}?` +
				`(?:instructions?|prompts?|directions?|rules?|guidelines?|messages?|policies|policy|constraints?|directives?|context|commands?|guardrails?)\b|` +
				`\bforget\s+(?:everything|all)\s+(?:you|above|before|previous|that)\b|` +
				// No qualifier is needed when the instructions are the
				// model's own or all of them ("ignore your instructions",
				// "ignore all instructions given to you"), nor for "the
				// above" ending a clause ("disregard the above and …").
				`\b(?:ignore|disregard|forget)\s+(?:all\s+(?:of\s+)?)?(?:your|all|any)\s+(?:\w+\s+)?(?:instructions|prompts|directions|rules|guidelines|directives)\b|` +
				`\b(?:ignore|disregard|forget)\s+(?:all\s+(?:of\s+)?|everything\s+)?(?:the\s+)?above(?:\s*[,.;:!]|\s+and\b|\s*$)`),
		},
		{
			rule: RuleImperativeMarkup, sev: finding.SeverityHigh,
			msg:      "tells the model to drop its task and answer something else",
			anchors:  []string{"instead"},
			requires: []string{"not", "n't", "never"},
			re: regexp.MustCompile(`\b(?:do\s+not|don't|never)\s+(?:\w+\s+){1,3}?(?:this|the|that)\s+(?:\w+\s+)?(?:document|text|page|content|e-?mail|article|input|data|message|file|review|question)\s*[,;:]?\s*` +
				`(?:and\s+|but\s+)?instead\s*,?\s+(?:output|print|say|write|reply|respond|return|answer|type)\b`),
		},
		{
			rule: RuleImperativeMarkup, sev: finding.SeverityHigh,
			msg:       "a note addressed to the model",
			toolsOnly: true,
			anchors:   []string{"note", "message", "instruction", "memo", "reminder", "attention", "hey", "dear", "warning", "psa", "directive"},
			requires:  []string{"ai", "assistant", "model", "llm", "agent", "bot", "claude", "gpt", "copilot", "gemini"},
			re: regexp.MustCompile(`\b(?:note|message|instructions?|memo|reminder|attention|psa|warning)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?` + modelWords + `s?\b|` +
				`\b(?:attention|hey|dear)\s*,?\s+(?:the\s+)?` + modelWords + `\b|` +
				`\b(?:ai|assistant|llm|agent)\s+(?:instructions?|directives?)\s*:`),
		},
		{
			rule: RuleImperativeMarkup, sev: finding.SeverityMedium,
			msg:     "tries to redefine the model's role",
			anchors: []string{"you are now", "from now on", "new instructions", "new system", "new directive", "new prompt", "no longer"},
			re: regexp.MustCompile(`\byou\s+are\s+now\s+(?:a|an|in|the|my|acting|operating|no\s+longer)\b|\bfrom\s+now\s+on\b` + gap + `\byou\b|` +
				`\byou\s+(?:will|shall|must|are\s+to)\s+no\s+longer\s+(?:be|function|act|behave|operate|respond|serve)\b|` +
				`\bnew\s+(?:system\s+)?(?:instructions|prompt|directives?)\s*:`),
		},

		// instruction-override: claims authority over the model.
		{
			rule: RuleInstructionOverride, sev: finding.SeverityHigh,
			msg:     "claims to override the model's instructions or safety rules",
			anchors: []string{"overrid", "supersed", "replac", "precedence", "bypass", "circumvent", "outrank", "ignor", "disregard"},
			requires: []string{"prompt", "instruction", "preference", "request", "intent", "choice", "wish", "guideline", "check", "filter", "measure",
				"directive", "constraint", "safeguard", "guardrail", "protection", "access control"},
			re: regexp.MustCompile(`\b(?:override|overrides|overriding|overridden|supersede|supersedes|superseding|replace|replaces|replacing|` +
				`takes?\s+precedence\s+over|outranks?|bypass|bypasses|bypassing|circumvent|circumvents|circumventing|ignores|ignoring|disregards|disregarding)\s+` +
				`(?:(?:all|any|the|your|its|their|normal|usual|standard|existing|previous|prior|earlier|original|other|every|of)\s+){0,3}` +
				// Whose rules matters: the model's and the user's, not a
				// firewall's or a repository's ("replaces the security policy").
				`(?:system\s+prompts?|(?:user|users'?|user's)\s+(?:instructions|preferences|requests|intent|choices|wishes)|` +
				`(?:safety|security|content|behaviou?ral|ethical|system|model|ai|assistant|previous|prior)\s+(?:\w+\s+)?` +
				`(?:instructions|guidelines|checks|filters|filtering|measures|prompts?|directives|constraints|safeguards|guardrails|protections)|` +
				`permission\s+checks|access\s+controls?|guardrails|safeguards|content\s+filter(?:s|ing)?)\b`),
		},
		{
			rule: RuleInstructionOverride, sev: finding.SeverityHigh,
			msg:      "claims its output carries instructions the model must follow",
			anchors:  []string{"authoritative", "priority", "mandatory", "binding", "treat", "consider", "regard", "interpret", "follow", "obey", "execute", "carry out", "comply"},
			requires: []string{"instruction", "directive", "command", "order", "system prompt"},
			re: regexp.MustCompile(`\b(?:authoritative|highest[\s-]priority|top[\s-]priority|absolute[\s-]priority|mandatory|binding)\s+(?:system\s+)?(?:directives|instructions|commands|orders)\b|` +
				`\b(?:treat|consider|regard|interpret)\s+(?:(?:them|it|this|these|those|the|its|their|all|tool|returned)\s+)*(?:(?:outputs?|results?|responses?|values?|content|text|data)\s+)?` +
				`as\s+(?:\w+\s+){0,2}?(?:instructions|directives|commands|system\s+prompts?|orders)\b|` +
				`\b(?:follow|obey|execute|carry\s+out|comply\s+with)\s+(?:(?:all|any|the|every)\s+)*(?:instructions|directives|commands|orders)\s+` +
				`(?:in|from|contained\s+in|included\s+in|within|inside|returned\s+by|given\s+in)\s+(?:the\s+|this\s+|its\s+)?(?:\w+\s+){0,2}?(?:output|results?|response|returned|context|data|content|text|tool)\b`),
		},
		{
			rule: RuleInstructionOverride, sev: finding.SeverityMedium,
			msg:     "tells the model to take on a persona the tool chooses",
			anchors: []string{"adopt"},
			re:      regexp.MustCompile(`\badopt\s+(?:the\s+|a\s+|this\s+|its\s+|any\s+)?(?:new\s+)?(?:persona|role|identity|personality)\s+(?:\w+\s+){0,3}?(?:from|in|specified|given|returned|defined|described)\b`),
		},

		// concealment: keep it from the user.
		{
			rule: RuleConcealment, sev: finding.SeverityHigh,
			msg:      "tells the model not to tell the user",
			anchors:  []string{"tell", "mention", "inform", "notif", "reveal", "disclos", "alert", "let ", "discuss", "explain", "acknowledge"},
			requires: []string{"not", "n't", "never", "no need", "avoid", "refrain"},
			re: regexp.MustCompile(`\b(?:do\s+not|don't|dont|never|must\s+not|mustn't|should\s+not|shouldn't|shall\s+not|no\s+need\s+to|avoid|refrain\s+from)\s+(?:ever\s+)?` +
				`(?:tell|telling|mention|mentioning|inform|informing|notify|notifying|alert|alerting|reveal|revealing|disclose|disclosing|let)\b` + gap +
				`\b(?:user|users|human|humans|anyone|person|people|operator|them)\b|` +
				`\b(?:do\s+not|don't|never|must\s+not|should\s+not)\s+(?:tell|mention|reveal|disclose|discuss|explain|acknowledge)\s+(?:this|that|it|these|anything|any\s+of\s+this)\b`),
		},
		{
			rule: RuleConcealment, sev: finding.SeverityMedium,
			msg:      "acts without telling the user",
			anchors:  []string{"without"},
			requires: []string{"telling", "informing", "notifying", "alerting"},
			re:       regexp.MustCompile(`\bwithout\s+(?:telling|informing|notifying|alerting)\s+(?:the\s+)?(?:user|users|human)\b`),
		},
		{
			rule: RuleConcealment, sev: finding.SeverityHigh,
			msg:      "tells the model to hide something from the user",
			anchors:  []string{"hid", "conceal", "keep", "without", "behind", "not", "n't", "never"},
			requires: []string{"user", "human", "anyone", "secret", "hidden", "confidential", "between us"},
			re: regexp.MustCompile(`\b(?:hide|hiding|conceal|concealing|keep|keeping)\s+(?:this|it|that|these|them|the\s+\w+)?\s*(?:hidden\s+|secret\s+)?from\s+(?:the\s+)?(?:user|users|human)\b|` +
				`\bkeep\s+(?:this|it|that)\s+(?:secret|hidden|confidential|between\s+us)\b|` +
				`\b(?:user|users|human)\s+(?:does\s+not|doesn't|do\s+not|don't|should\s+not|shouldn't|must\s+not|need\s+not|needn't|never)\s+(?:need\s+to\s+)?(?:know|see|notice|be\s+(?:told|informed|aware|notified)|find\s+out|learn)\b|` +
				`\bwithout\s+(?:the\s+)?(?:user|users|user's|human|human's|anyone)\s+(?:knowing|noticing|knowledge|being\s+aware|awareness|seeing|realizing|finding\s+out)\b|` +
				`\bbehind\s+the\s+user'?s\s+back\b`),
		},
		{
			rule: RuleConcealment, sev: finding.SeverityMedium,
			msg:     "describes acting covertly",
			anchors: []string{"secretly", "covertly", "surreptitious", "stealthily"},
			re:      regexp.MustCompile(`\b(?:secretly|covertly|surreptitiously|stealthily)\b`),
		},
		{
			rule: RuleConcealment, sev: finding.SeverityLow,
			msg:     "describes acting silently",
			anchors: []string{"silently", "quietly", "behind the scenes"},
			re:      regexp.MustCompile(`\b(?:silently|quietly|behind\s+the\s+scenes)\b`),
		},

		// consent-bypass: act without the user's say.
		{
			rule: RuleConsentBypass, sev: finding.SeverityLow,
			msg:      "acts without the user's confirmation",
			anchors:  []string{"without"},
			requires: []string{"approval", "confirm", "consent", "permission", "authori", "sign", "the user"},
			re: regexp.MustCompile(`\bwithout\s+(?:first\s+)?(?:(?:asking|requiring|needing|seeking|waiting\s+for|prompting|requesting|getting|obtaining|checking\s+with|consulting|involving|any|explicit|prior|further|additional|the|user|users|user's|human|human's|their|for|a)\s+){0,4}` +
				`(?:approval|confirmation|consent|permission|authori[sz]ation|sign[\s-]?off|confirming|the\s+user)\b`),
			refine: raiseIfDirective,
		},
		{
			rule: RuleConsentBypass, sev: finding.SeverityHigh,
			msg:      "tells the model not to ask the user",
			anchors:  []string{"never", "n't", "not", "no need", "no user", "no human", "without user", "without human"},
			requires: []string{"ask", "confirm", "check with", "consult", "prompt", "approval", "consent", "permission"},
			re: regexp.MustCompile(`\b(?:never|don't|do\s+not|need\s+not|needn't|no\s+need\s+to|there\s+is\s+no\s+need\s+to)\s+(?:need\s+to\s+)?(?:ask|confirm\s+with|check\s+with|consult|prompt)\s+(?:for\s+)?(?:the\s+)?(?:user|users|human)\b|` +
				`\b(?:no|without)\s+(?:user|human)\s+(?:approval|confirmation|consent|permission)\s+(?:is\s+)?(?:needed|required|necessary)\b`),
		},
		{
			rule: RuleConsentBypass, sev: finding.SeverityLow,
			msg:     "says no user involvement is needed",
			anchors: []string{"no user"},
			re:      regexp.MustCompile(`\bno\s+user\s+(?:action|interaction|input|involvement)\s+(?:is\s+)?(?:needed|required|necessary)\b`),
		},
		{
			rule: RuleConsentBypass, sev: finding.SeverityLow,
			msg:     "claims prior approval",
			anchors: []string{"approved", "validated", "authorized", "authorised"},
			re:      regexp.MustCompile(`\b(?:pre[\s-]?approved|pre[\s-]?authori[sz]ed|already\s+(?:been\s+)?(?:approved|validated|authori[sz]ed|vetted))\b`),
		},

		// sensitive-path: credential files and MCP client configs.
		{
			rule: RuleSensitivePath, sev: finding.SeverityLow,
			msg: "names a sensitive file",
			msgs: map[finding.Severity]string{
				finding.SeverityHigh: "tells the model to read or pass on a sensitive file",
			},
			anchors: []string{".ssh", "id_", "authorized_keys", ".aws", "gcloud", "application_default", ".azure", ".kube", "kubeconfig", ".env",
				".netrc", ".npmrc", ".pypirc", ".git-credentials", ".docker", ".gnupg", ".password-store", "/etc/", "_history", "wallet.dat",
				".kdbx", ".keychain", "mcp", "claude", ".cursor", ".codeium", ".gemini", ".codex"},
			re: regexp.MustCompile(`\.ssh\b(?:[/\\][\w.-]+)?|\bid_(?:rsa|dsa|ecdsa|ed25519)(?:\.pub)?\b|\bauthorized_keys\b|\.aws(?:[/\\](?:credentials|config))?\b|` +
				`\.config[/\\]gcloud\b|\bapplication_default_credentials\.json\b|\.azure[/\\][\w.-]*|\.kube[/\\]config\b|\bkubeconfig\b|` +
				`\.env(?:\.[a-z]+)?\b|\.netrc\b|\.npmrc\b|\.pypirc\b|\.git-credentials\b|\.docker[/\\]config\.json\b|\.gnupg\b|\.password-store\b|` +
				`/etc/(?:passwd|shadow|gshadow|sudoers)\b|\.(?:bash|zsh)_history\b|\bwallet\.dat\b|\.kdbx\b|\blogin\.keychain\b|` +
				`\b(?:mcp|mcp_config|mcp_settings|cline_mcp_settings)\.json\b|\bclaude_desktop_config\.json\b|\.claude\.json\b|\.claude[/\\]settings(?:\.local)?\.json\b|` +
				`\.cursor\b(?:[/\\][\w.-]+)?|\.codeium[/\\][\w./-]*|\.gemini[/\\]settings\.json\b|\.codex[/\\]config\.toml\b`),
			refine: sensitivePathSeverity,
		},

		// shadowing: steering other tools.
		{
			rule: RuleShadowing, sev: finding.SeverityMedium,
			msg:      "changes what happens when another tool is used",
			anchors:  []string{"when", "before", "after", "every time", "each time", "if "},
			requires: []string{"called", "used", "invoked", "executed", "run", "triggered"},
			re: regexp.MustCompile(`\b(?:when|whenever|before|after|every\s+time|each\s+time|if)\s+(?:the\s+|any\s+|an?\s+)?['"\x60]?([a-z0-9_.:/-]+)['"\x60]?\s+` +
				`(?:tool\s+|function\s+|command\s+)?(?:is|gets|has\s+been|are)\s+(?:called|used|invoked|executed|run|triggered)\b`),
			refine: directedAtOther,
		},
		{
			rule: RuleShadowing, sev: finding.SeverityMedium,
			msg:     "steers the model away from other tools",
			anchors: []string{"instead of", "not use", "not call", "never use", "never call", "don't use", "don't call", "not invoke"},
			re: regexp.MustCompile(`\binstead\s+of\s+(?:using|calling|invoking|running)\b|` +
				`\b(?:do\s+not|don't|never)\s+(?:use|call|invoke|run)\s+(?:the\s+|any\s+)?(?:other\s+)?['"\x60]?([a-z0-9_.-]+)['"\x60]?\s+tools?\b`),
			// "Do not use this tool to send direct messages" is about itself.
			refine: notSelf,
		},
		{
			rule: RuleShadowing, sev: finding.SeverityMedium,
			msg: "refers to other tools or servers present in the session",
			anchors: []string{"any other tool", "every other tool", "all other tool", "any tool", "also present", "previously declared", "other available",
				"other connected", "other installed", "already available", "already present", "already installed", "already connected", "side effect", "effect on"},
			re: regexp.MustCompile(`\b(?:before|after|prior\s+to)\s+(?:calling|using|invoking|running)\s+(?:any|every|all|each)\s+(?:other\s+)?tools?\b|` +
				`\b(?:also\s+present|previously\s+declared|other\s+(?:available|connected|installed)|already\s+(?:available|present|installed|connected))\s+(?:\S+\s+){0,2}?(?:tools?|servers?|functions?)\b|` +
				`\b(?:side\s+effects?|effect|impact|influence)\s+on\s+(?:the\s+)?(?:\S+\s+){0,3}?(?:tools?|servers?)\b`),
		},
		{
			rule: RuleShadowing, sev: finding.SeverityMedium,
			msg:     "dictates how another tool must be used",
			anchors: []string{" tool must", " tool should", " tool needs", " tool has to", " tool is required", " tool shall"},
			re: regexp.MustCompile(`\bthe\s+['"\x60]?([a-z0-9_.-]+)['"\x60]?\s+tool\s+(?:must|should|needs\s+to|has\s+to|is\s+required\s+to|shall)\s+` +
				`(?:always\s+|first\s+|never\s+|only\s+)?(?:be|always|first|never|only|send|use|include|return)\b`),
			refine: notSelf,
		},

		// exfiltration: the conversation, secrets or files leave.
		{
			rule: RuleExfiltration, sev: finding.SeverityHigh,
			msg: "sends the conversation or prompt elsewhere",
			anchors: []string{"conversation", "chat", "dialog", "message", "session", "full", "entire", "complete", "whole", "system prompt",
				"previous messages", "user's", "users'", "user prompt", "user message", "user quer", "user conversation"},
			requires: sendStems,
			re:       regexp.MustCompile(`\b` + sendVerbs + `\b` + gap + `\b` + conversationData + `\b`),
			refine:   notOtherChannel,
		},
		{
			rule: RuleExfiltration, sev: finding.SeverityMedium,
			msg: "sends secrets or user data",
			anchors: []string{"key", "token", "password", "secret", "credential", "environment variable", "env var", "cookie",
				"user data", "users'", "user's", "user files", "their ", "your ", "all ", "personal"},
			requires: sendStems,
			re:       regexp.MustCompile(`\b` + sendVerbs + `\b` + gap + `\b` + secretData + `\b`),
			refine:   raiseIfExternal,
		},
		{
			rule: RuleExfiltration, sev: finding.SeverityHigh,
			msg:      "smuggles file contents or secrets through a tool parameter",
			anchors:  []string{"param", "argument", "arg", "field", "property"},
			requires: []string{"pass", "put", "include", "insert", "embed", "attach", "append", "place", "paste", "supply", "encode", "stuff"},
			re: regexp.MustCompile(`\b(?:pass|put|include|insert|embed|attach|append|place|paste|supply|encode|stuff)\s+` +
				`(?:(?:it|its|the|their|all|full|entire|complete|whole|file|raw|those|these|this|that|your|any|of)\s+){0,4}` +
				`(?:contents?|text|output|results?|keys?|credentials|secrets?|tokens?|history|conversation)\b` + gap +
				`\b(?:as|in|into|inside|within|via|through|to|using)\s+(?:the\s+|a\s+|an\s+|this\s+|that\s+)?(?:['"\x60]?[\w-]+['"\x60]?\s+)?(?:parameter|param|argument|arg|field|property)\b`),
		},
		{
			rule: RuleExfiltration, sev: finding.SeverityMedium,
			msg: "tells the model to send data to an external URL",
			msgs: map[finding.Severity]string{
				finding.SeverityHigh: MsgURLPlaceholder,
			},
			anchors: []string{"http://", "https://"},
			re:      regexp.MustCompile(`https?://[^\s'"<>\x60)\]]+`),
			refine:  urlSeverity,
		},
		{
			rule: RuleExfiltration, sev: finding.SeverityMedium,
			msg:      "sends mail to a fixed address",
			anchors:  []string{"@"},
			requires: []string{"send", "forward", "bcc", "cc", "copy", "redirect", "email", "mail", "reroute"},
			re:       regexp.MustCompile(`\b(?:send|sends|forward|forwards|bcc|cc|copy|redirect|redirects|email|mail|reroute|reroutes)\b` + gap + `\bto\s+<?[\w.+-]+@[\w-]+(?:\.[\w-]+)+`),
			refine: func(_ *reviewer, sc scanned, m []int) (finding.Severity, bool) {
				if mailToAll().MatchString(sc.norm[m[0]:m[1]]) {
					return finding.SeverityHigh, true
				}
				return finding.SeverityMedium, true
			},
		},
	})
})

// sentence returns the sentence of norm around [start,end): from the last
// ". ", "! ", "? " or line break before it to the next one after it.
func sentence(norm string, start, end int) (string, int) {
	lo := max(start-200, 0)
	for _, sep := range []string{". ", "! ", "? ", "\n", "> "} {
		if i := strings.LastIndex(norm[lo:start], sep); i >= 0 {
			lo += i + len(sep)
		}
	}
	hi := min(end+200, len(norm))
	for _, sep := range []string{". ", "! ", "? ", "\n", " <"} {
		if i := strings.Index(norm[end:hi], sep); i >= 0 {
			hi = min(hi, end+i)
		}
	}
	return norm[lo:hi], lo
}

// notOtherChannel drops "exports the chat history of the given channel":
// the history of a channel or a thread the tool works on, not the
// conversation with the model.
func notOtherChannel(_ *reviewer, sc scanned, m []int) (finding.Severity, bool) {
	if ofOther().MatchString(sc.norm[m[1]:]) {
		return "", false
	}
	return finding.SeverityHigh, true
}

// raiseIfDirective: "deletes without confirmation" describes a tool; "always
// send it without confirmation" instructs the model; a sentence that also
// tells the model to check with the user is a warning, not a bypass.
func raiseIfDirective(_ *reviewer, sc scanned, m []int) (finding.Severity, bool) {
	s, _ := sentence(sc.norm, m[0], m[1])
	if asksUser().MatchString(s) {
		return "", false // "sent without further confirmation, so check with the user first"
	}
	if directiveWords().MatchString(s) {
		return finding.SeverityHigh, true
	}
	return finding.SeverityLow, true
}

// raiseIfExternal grades "sends … secrets": high when the sentence names an
// outside destination, dropped when the secret is only the means ("sends an
// email using the account's credentials"), medium otherwise.
func raiseIfExternal(_ *reviewer, sc scanned, m []int) (finding.Severity, bool) {
	if s, _ := sentence(sc.norm, m[0], m[1]); externalDest().MatchString(s) {
		return finding.SeverityHigh, true
	}
	if instrumentWords().MatchString(sc.norm[m[0]:m[1]]) {
		return "", false
	}
	return finding.SeverityMedium, true
}

// directedAtOther keeps "when the X tool is called, …" only when the
// sentence tells the model what to do then ("you must", "always"): "when
// the search tool is used, results are cached" describes this server.
func directedAtOther(r *reviewer, sc scanned, m []int) (finding.Severity, bool) {
	sev, ok := notSelf(r, sc, m)
	if !ok {
		return sev, ok
	}
	if s, _ := sentence(sc.norm, m[0], m[1]); directiveWords().MatchString(s) || youWord().MatchString(s) || imperativeNext().MatchString(sc.norm[m[1]:]) {
		return sev, true
	}
	return "", false
}

// notSelf drops shadowing matches whose tool is this tool or a generic word.
func notSelf(r *reviewer, sc scanned, m []int) (finding.Severity, bool) {
	if len(m) < 4 || m[2] < 0 {
		return finding.SeverityMedium, true
	}
	name := sc.norm[m[2]:m[3]]
	if (name == "tool" || name == "tools") && strings.Contains(sc.norm[m[0]:m[2]], "any ") {
		return finding.SeverityMedium, true // "when any tool is called"
	}
	if shadowSelfWords[name] || (r.self != "" && strings.EqualFold(name, r.self)) {
		return "", false
	}
	return finding.SeverityMedium, true
}

// sensitivePathSeverity grades a sensitive file mention: an instruction to
// read or pass it on is high, a credential or MCP config named in passing is
// medium, a directory or ordinary config named in passing is low (a tool that
// lists SSH host aliases from ~/.ssh/config is not poisoned).
func sensitivePathSeverity(_ *reviewer, sc scanned, m []int) (finding.Severity, bool) {
	path := sc.norm[m[0]:m[1]]
	if strings.HasPrefix(path, ".env") && m[0] > 0 && isWordByte(sc.norm[m[0]-1]) {
		return "", false // process.env, import.meta.env: code, not a file
	}
	if envTemplate().MatchString(path) {
		return finding.SeverityLow, true // a template lists names, not secrets, even when read
	}
	s, lo := sentence(sc.norm, m[0], m[1])
	before := s[:m[0]-lo]
	if accessVerb().MatchString(before) || pathAssignment().MatchString(before) {
		return finding.SeverityHigh, true
	}
	for _, w := range []string{"id_", "credentials", ".netrc", ".npmrc", ".pypirc", "shadow", "wallet", ".kdbx", "keychain", ".env",
		"password-store", "gcloud", "kube", ".docker", "history", "mcp", "claude", ".cursor/", ".codeium", ".gemini", ".codex"} {
		if strings.Contains(path, w) {
			return finding.SeverityMedium, true
		}
	}
	return finding.SeverityLow, true
}

// MsgURLPlaceholder is the message of a URL with placeholders for data to
// be filled in: in a tool's description, the model is the one to fill
// them. In data (an argument, a tool's result), a URL template is as often
// a script's or a document's own (".../repos/${REPO}"); a caller there
// decides whether the text around it tells the model to use it.
const MsgURLPlaceholder = "a URL with placeholders or secret names for data to be filled in"

// urlSeverity keeps a URL only when it has placeholders for the model to
// fill in (high), names a secret in its query, or is where the sentence tells
// the model to send something (medium); documentation links and API
// endpoints (".../oauth/token") are not findings.
func urlSeverity(_ *reviewer, sc scanned, m []int) (finding.Severity, bool) {
	url := sc.norm[m[0]:m[1]]
	if urlPlaceholder().MatchString(url) {
		return finding.SeverityHigh, true
	}
	if urlSecretParam().MatchString(url) {
		return finding.SeverityMedium, true
	}
	s, lo := sentence(sc.norm, m[0], m[1])
	if before := s[:m[0]-lo]; sendVerb().MatchString(before) && dataNouns().MatchString(before) {
		return finding.SeverityMedium, true
	}
	return "", false
}
