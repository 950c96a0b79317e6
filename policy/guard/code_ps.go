package guard

import "strings"

// Windows command lines: PowerShell's encoded commands under every prefix
// of -EncodedCommand it accepts, and the living-off-the-land downloaders
// (certutil, bitsadmin, mshta, regsvr32) that fetch and run code without a
// PowerShell cradle.

// psEncoded: a powershell or pwsh command line given an encoded command.
// PowerShell takes any unambiguous prefix of -EncodedCommand (-e, -en,
// -enc, …, and -ec), with a dash or a slash.
func psEncoded(low string) bool {
	for _, exe := range []string{"powershell", "pwsh"} {
		for off := 0; off < len(low); {
			j := strings.Index(low[off:], exe)
			if j < 0 {
				break
			}
			at := off + j
			off = at + len(exe)
			end := strings.IndexByte(low[at:], '\n')
			if end < 0 {
				end = len(low) - at
			}
			for _, tok := range strings.Fields(low[at+len(exe) : at+end]) {
				tok = strings.Trim(tok, `"'`)
				if len(tok) < 2 || (tok[0] != '-' && tok[0] != '/') {
					continue
				}
				flag := tok[1:]
				if flag == "ec" || strings.HasPrefix("encodedcommand", flag) && flag[0] == 'e' && (len(flag) == 1 || flag[1] == 'n') {
					return true
				}
			}
		}
	}
	return false
}

// lolbinRules are Windows programs that download or run remote code when
// given these switches; low is the lower-cased text.
var lolbinRules = []struct {
	lit  string
	also []string // one of these in the same line
	msg  string
}{
	{"certutil", []string{"-urlcache", "/urlcache", "-verifyctl", "-decode "}, "certutil downloads or decodes a payload"},
	{"bitsadmin", []string{"/transfer", "/addfile"}, "bitsadmin downloads a file"},
	{"mshta", []string{"http:", "https:", "javascript:", "vbscript:"}, "mshta runs a remote or inline script"},
	{"regsvr32", []string{"/i:http", "-i:http", "scrobj.dll"}, "regsvr32 runs a remote scriptlet"},
	{"rundll32", []string{"javascript:", "url.dll,fileprotocolhandler http"}, "rundll32 runs script or a download"},
	{"start-bitstransfer", []string{"start-process", "iex", "invoke-expression", "& $"}, "a download that is then run"},
	{"invoke-webrequest", []string{"start-process", "| iex", "|iex", "invoke-expression", ".content)"}, "a download that is then run"},
	{"iwr ", []string{"start-process", "| iex", "|iex", "invoke-expression"}, "a download that is then run"},
	{"[scriptblock]::create(", nil, "builds a script block from text and runs it"},
	{"stop-service", []string{"windefend", "sense", "wdnissvc"}, "stops Microsoft Defender"},
	{"sc stop windefend", nil, "stops Microsoft Defender"},
	{"sc config windefend", nil, "turns Microsoft Defender off"},
	{"disableantispyware", []string{"$true", "/d 1", " 1", "true"}, "turns Microsoft Defender off"},
	{"disablerealtimemonitoring", []string{"$true", "/d 1", " 1", "true"}, "turns Microsoft Defender real-time protection off"},
	{"uninstall-windowsfeature", []string{"windows-defender"}, "removes Microsoft Defender"},
	{"iex $", nil, "IEX runs text as PowerShell"},
	{"wmic", []string{"process call create", "shadowcopy delete"}, "wmic runs a process or deletes shadow copies"},
	{"currentversion\\run", []string{"reg add", "new-itemproperty", "set-itemproperty"}, "makes a program start at every logon (a Run key)"},
	{"wevtutil", []string{" cl ", " clear-log "}, "clears a Windows event log"},
	{"clear-eventlog", nil, "clears a Windows event log"},
	{"advfirewall", []string{"state off"}, "turns the Windows firewall off"},
}

// windowsFindings applies psEncoded and lolbinRules to low.
func windowsFindings(low string, add func(rule, msg string)) {
	if psEncoded(low) {
		add(RuleCodePowerShell, "PowerShell runs an encoded command")
	}
	for _, r := range lolbinRules {
		at := strings.Index(low, r.lit)
		if at < 0 {
			continue
		}
		if len(r.also) > 0 && !lineHasAny(low, at, r.also) {
			continue
		}
		add(RuleCodePowerShell, r.msg)
	}
}

// lineHasAny: the line of low around at holds one of words.
func lineHasAny(low string, at int, words []string) bool {
	ls := strings.LastIndexByte(low[:at], '\n') + 1
	le := strings.IndexByte(low[at:], '\n')
	line := low[ls:]
	if le >= 0 {
		line = low[ls : at+le]
	}
	line += "\n"
	for _, w := range words {
		if w[0] < 'a' || w[0] > 'z' {
			if strings.Contains(line, w) {
				return true
			}
			continue
		}
		// A word that starts with a letter starts a word in the line:
		// "nc " is not the end of Go's "func ".
		for off := 0; ; {
			j := strings.Index(line[off:], w)
			if j < 0 {
				break
			}
			if off+j == 0 || !isWordChar(line[off+j-1]) {
				return true
			}
			off += j + 1
		}
	}
	return false
}
