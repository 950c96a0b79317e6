package libinjection

import (
	"strings"
	"sync"
)

type sqliState struct {
	// input, does not need to be null terminated, it is also not modified.
	input string

	// length, input length
	length int

	flags int

	// position is the index in the string during tokenization
	pos int

	// tokenVec, max tokens+1 since we use one extra token to determine the type of the previous token
	tokenVec [8]sqliToken

	// pointer to token position in tokenVec, above
	current *sqliToken

	// fingerprint pattern c-string, +1 form ending null
	fingerprint string

	// |----------------------------------------|
	// |            |/**/	|--[start]      |#  |
	// |------------|-------|---------------|---|
	// |ANSI SQL	|ok	    |ok	            |no |
	// |------------|-------|---------------|---|
	// |MYSQL       |ok     |--[whitespace] |ok |
	// |----------------------------------------|

	// Number of ddw(dash-dash-white) comments
	// These comments are in the form of
	// '--[whitespace]' or '--[EOF]'
	// All databases treat this as a comment.
	// statsCommentDDW int

	// Number of ddx(dash-dash-[not white]) comments
	//
	// ANSI SQL treats these are comments, MYSQL threats this as
	// two unary operators '-' '-'
	//
	// If you are parsing result returns FALSE and
	// stats_comment_dd > 0, you should reparse with
	// COMMENT_MYSQL
	statsCommentDDX int

	// c-style comments found /x .. x/
	// statsCommentC int

	// '#' operators or MYSQL EOL comments found
	statsCommentHash int

	// number of tokens folded away
	statsFolds int

	// total tokens processed
	statsTokens int
}

func sqliInit(s *sqliState, input string, flags int) {
	if flags == 0 {
		flags = sqliFlagQuoteNone | sqliFlagSQLAnsi
	}

	*s = sqliState{}
	s.input = input
	s.length = len(input)
	s.flags = flags
	s.current = &s.tokenVec[0]
}

// secondary api: detects SQLi in a string, GIVEN a context.
//
// A context can be:
//
//			ByteNull (\0), process as is
//			ByteSingle ('), process pretending input started with a
//			    single quote.
//	     ByteDouble ("), process pretending input started with a
//	         double quote.
func (s *sqliState) sqliFingerprint(flags int) string {
	s.reset(flags)
	length := s.fold()

	// check for magic PHP backquote comment
	// If:
	//     last token is of type "bareword"
	//     And is quoted in a backtick
	//     And isn't closed
	//     And it's empty?
	//     Then convert it to comment
	if length > 2 &&
		s.tokenVec[length-1].category == sqliTokenTypeBareWord &&
		s.tokenVec[length-1].strOpen == byteTick &&
		s.tokenVec[length-1].len == 0 &&
		s.tokenVec[length-1].strClose == byteNull {
		s.tokenVec[length-1].category = sqliTokenTypeComment
	}

	var buf [maxTokens]byte

	for i := 0; i < length; i++ {
		c := s.tokenVec[i].category
		// check for 'X' in pattern, and then
		// clear out all tokens
		//
		// this means parsing could not be done
		// accurately due to pgsql's double comments
		// or other syntax that isn't consistent.
		// Should be very rare false positive
		if c == sqliTokenTypeEvil {
			s.fingerprint = string(sqliTokenTypeEvil)
			s.tokenVec[0].category = sqliTokenTypeEvil
			s.tokenVec[0].val = string(sqliTokenTypeEvil)
			return s.fingerprint
		}

		buf[i] = c
	}

	s.fingerprint = string(buf[:length])
	return s.fingerprint
}

func (s *sqliState) tokenize() bool {
	if s.length == 0 {
		return false
	}
	*s.current = sqliToken{}

	// if we are at beginning of string and in single quote or double quote mode
	// then pretend the input starts with a quote
	if s.pos == 0 && (s.flags&(sqliFlagQuoteSingle|sqliFlagQuoteDouble)) != 0 {
		s.pos = s.current.parseStringCore(s.input, s.length, 0, 0, flag2Delimiter(s.flags))
		s.statsTokens++
		return true
	}

	for s.pos < s.length {
		// get current character
		ch := s.input[s.pos]

		// look up the parser, and cell it
		s.pos = parseByteFunctions(s, ch)

		if s.current.category != byteNull {
			s.statsTokens++
			return true
		}
	}

	return false
}

// Given a pattern determine if it's a SQLi pattern.
//
// return TRUE if SQLi, false otherwise
func (s *sqliState) blacklist() bool {
	length := len(s.fingerprint)
	if length < 1 {
		return false
	}

	var buf [maxTokens + 1]byte
	buf[0] = '0'
	upper := buf[1 : length+1]
	for i := 0; i < length; i++ {
		ch := s.fingerprint[i]
		if ch >= 'a' && ch <= 'z' {
			ch -= 0x20
		}
		upper[i] = ch
	}
	fp := buf[:length+1]
	// Note: buf/upper avoid an extra allocation for uppercasing, but the
	// conversion to string here still allocates for each lookup because
	// sqlKeywords is a map keyed by string. This allocation is currently
	// unavoidable without changing the map's key type.
	if val, ok := sqlKeywords()[string(fp)]; ok {
		return val == sqliTokenTypeFingerprint
	}
	return false
}

// Given a positive match for a pattern (i.e. pattern is SQLi), this function
// does additional analysis to reduce false positives.
//
// return TRUE if SQLi, false otherwise
//
//nolint:gocyclo // complexity 34, reduction tracked in #127
func (s *sqliState) notWhitelist() bool {
	// We assume we got a SQLi match
	// This next part just helps reduce false positives
	length := len(s.fingerprint)

	if length > 1 && s.fingerprint[length-1] == sqliTokenTypeComment {
		// if ending comment is contains 'sp_password' then it's SQLi!
		// MS Audit log apparently ignores anything with
		// 'sp_password' in it. Unable to find primary reference to
		// this "feature" of SQL Server but seems to be known SQLi
		// technique
		if strings.Contains(s.input, "sp_password") {
			return true
		}
	}

	switch length {
	case 2:
		// case 2 are "very small SQLi" which make them
		// hard to tell from normal input...
		if s.fingerprint[1] == sqliTokenTypeUnion {
			//  not sure why but 1U comes up in SQLi attack
			//  likely part of parameter splitting/etc.
			//  lots of reasons why "1 union" might be normal
			//  input, so beep only if other SQLi things are present
			//
			//  it really is a number and 'union'
			//  otherwise it has folding or comments
			return s.statsTokens != 2
		}

		// if 'comment' is '#' ignore.. too many FP
		if s.tokenVec[1].val[0] == '#' {
			return false
		}

		// for fingerprint like 'nc', only comments of /x are treated
		// as SQL... ending comments of "--" and "#" are not SQLi
		if s.tokenVec[0].category == sqliTokenTypeBareWord &&
			s.tokenVec[1].category == sqliTokenTypeComment &&
			s.tokenVec[1].val[0] != '/' {
			return false
		}

		// if '1c' ends with '/x' then it's SQLi
		if s.tokenVec[0].category == sqliTokenTypeNumber &&
			s.tokenVec[1].category == sqliTokenTypeComment &&
			s.tokenVec[1].val[0] == '/' {
			return true
		}

		// there are some odd base64-looking query string values
		// 1234-ABCDEFEhfhihwuefi--
		// which evaluate to "1c"... these are not SQLi
		// but 1234-- probably is.
		// Make sure the "1" in "1c" is actually a true decimal number
		//
		// Need to check -original- string since the folding step
		// may have merged tokens, e.g. "1+FOO" is folded into "1"
		//
		// Note: evasion: 1*1--
		if s.tokenVec[0].category == sqliTokenTypeNumber &&
			s.tokenVec[1].category == sqliTokenTypeComment {
			if s.statsTokens > 2 {
				// we have some folding going on, highly likely SQLi
				return true
			}

			// we check that next character after the number is either whitespace,
			// or '/' or a '-' ==> SQLi
			ch := s.input[s.tokenVec[0].len]
			if ch <= 32 {
				// next char was whitespace,e.g. "1234 --"
				// this isn't exactly correct. ideally we should skip over all whitespace
				// but this seems to be ok for now
				return true
			}
			if ch == '/' && s.input[s.tokenVec[0].len+1] == '*' {
				return true
			}
			if ch == '-' && s.input[s.tokenVec[0].len+1] == '-' {
				return true
			}

			return false
		}

		// detect obvious SQLi scans.. many people put '--' in plain text
		// so only detect if input ends with '--', e.g. 1-- but not 1-- foo
		if s.tokenVec[1].len > 2 && s.tokenVec[1].val[0] == '-' {
			return false
		}

	case 3:
		// ...foo' + 'bar...
		// no opening quote, no closing quote
		// and each string has data
		// sos || s&s are string and operator || logic operator and string
		switch s.fingerprint {
		case "sos", "s&s":
			if s.tokenVec[0].strOpen == byteNull &&
				s.tokenVec[2].strClose == byteNull &&
				s.tokenVec[0].strClose == s.tokenVec[2].strOpen {
				// if ...foo" + "bar ...
				return true
			}

			if s.statsTokens == 3 {
				return false
			}

			return false
		case "s&n", "n&1", "1&1", "1&v", "1&s":
			// 'sexy and 17' not SQLi
			// 'sexy and 17<18' SQLi
			if s.statsTokens == 3 {
				return false
			}
		}
		if s.tokenVec[1].category == sqliTokenTypeKeyword && (s.tokenVec[1].len < 5 || !toUpperCmp("INTO", s.tokenVec[1].val[:4])) {
			// if it's not "INTO OUTFILE", or "INTO DUMPFILE" (MySQL)
			// then treat as safe
			return false
		}
	}

	return true
}

func (s *sqliState) checkFingerprint() bool {
	return s.blacklist() && s.notWhitelist()
}

func (s *sqliState) lookupWord(lookupType int, word string) byte {
	if lookupType == sqliLookupFingerprint {
		if s.checkFingerprint() {
			return 'X'
		}
		return byteNull
	}
	return searchKeyword(word, sqlKeywords())
}

func (s *sqliState) reset(flags int) {
	if flags == 0 {
		flags = sqliFlagQuoteNone | sqliFlagSQLAnsi
	}
	sqliInit(s, s.input, flags)
}

// Main API, detects SQLi in an input
func (s *sqliState) reparseAsMySQL() bool {
	return s.statsCommentDDX != 0 || s.statsCommentHash != 0
}

//nolint:gocyclo // complexity 11, reduction tracked in #122
func (s *sqliState) check() bool {
	// no input? not SQLi
	if s.length == 0 {
		return false
	}

	// test input "as-is"
	s.sqliFingerprint(sqliFlagQuoteNone | sqliFlagSQLAnsi)
	if s.lookupWord(sqliLookupFingerprint, s.fingerprint) != byteNull {
		return true
	} else if s.reparseAsMySQL() {
		s.sqliFingerprint(sqliFlagQuoteNone | sqliFlagSQLMysql)
		if s.lookupWord(sqliLookupFingerprint, s.fingerprint) != byteNull {
			return true
		}
	}

	// if input has a single quote, then
	// test as if input was actually '
	// example: if input if "1' = 1", then pretend it's "'1' = 1"
	if strings.IndexByte(s.input, byteSingle) != -1 {
		s.sqliFingerprint(sqliFlagQuoteSingle | sqliFlagSQLAnsi)
		if s.lookupWord(sqliLookupFingerprint, s.fingerprint) != byteNull {
			return true
		} else if s.reparseAsMySQL() {
			s.sqliFingerprint(sqliFlagQuoteSingle | sqliFlagSQLMysql)
			if s.lookupWord(sqliLookupFingerprint, s.fingerprint) != byteNull {
				return true
			}
		}
	}

	// same as above but with a double quote
	if strings.IndexByte(s.input, byteDouble) != -1 {
		s.sqliFingerprint(sqliFlagQuoteDouble | sqliFlagSQLMysql)
		if s.lookupWord(sqliLookupFingerprint, s.fingerprint) != byteNull {
			return true
		}
	}

	// Hurry, input is not SQLi
	return false
}

var sqliStatePool = sync.Pool{New: func() any { return new(sqliState) }}

// IsSQLi returns true if the input is SQLi.
// It also returns the fingerprint of the SQL injection as a string.
func IsSQLi(input string) (bool, string) {
	state := sqliStatePool.Get().(*sqliState)
	defer func() {
		*state = sqliState{} // clear input/token references before returning to pool
		sqliStatePool.Put(state)
	}()
	sqliInit(state, input, 0)
	if state.check() {
		// state.fingerprint backing bytes come from string(buf[:]) inside
		// sqliFingerprint — a separate heap allocation, not part of the struct.
		// Safe to return after Put.
		return true, state.fingerprint
	}
	return false, ""
}
