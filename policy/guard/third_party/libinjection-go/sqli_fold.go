package libinjection

import "strings"

// See if two tokens can be merged since they are compound SQL phrases.
//
// This takes two tokens and if they are the right type,
// merges their values together. Then checks to see if the
// new value is special using the PHRASES mapping.
//
// Example: "UNION" + "ALL" = "UNION ALL"
//
//nolint:gocyclo // complexity 20, reduction tracked in #124
func (s *sqliState) merge(tokenA, tokenB *sqliToken) bool {
	// first token is of right type?
	if !(tokenA.category == sqliTokenTypeKeyword ||
		tokenA.category == sqliTokenTypeBareWord ||
		tokenA.category == sqliTokenTypeOperator ||
		tokenA.category == sqliTokenTypeUnion ||
		tokenA.category == sqliTokenTypeFunction ||
		tokenA.category == sqliTokenTypeExpression ||
		tokenA.category == sqliTokenTypeTSQL ||
		tokenA.category == sqliTokenTypeSQLType) {
		return false
	}

	if !(tokenB.category == sqliTokenTypeKeyword ||
		tokenB.category == sqliTokenTypeBareWord ||
		tokenB.category == sqliTokenTypeOperator ||
		tokenB.category == sqliTokenTypeUnion ||
		tokenB.category == sqliTokenTypeFunction ||
		tokenB.category == sqliTokenTypeExpression ||
		tokenB.category == sqliTokenTypeTSQL ||
		tokenB.category == sqliTokenTypeSQLType ||
		tokenB.category == sqliTokenTypeLogicOperator) {
		return false
	}

	// +1 for space in the middle
	if tokenA.len+tokenB.len+1 > tokenSize {
		// make sure there is room for ending null
		return false
	}

	tmp := tokenA.val[:tokenA.len] + " " + tokenB.val[:tokenB.len]
	ch := s.lookupWord(sqliLookupWord, tmp)
	if ch != byteNull {
		tokenA.assign(ch, tokenA.pos, len(tmp), tmp)
		return true
	}
	return false
}

// parses and folds input, up to 5 tokens
//
//nolint:gocyclo // complexity 179, reduction tracked in #129
func (s *sqliState) fold() int {
	var (
		pos         = 0 // pos is the position of where whe Next token goes
		left        = 0 // left is a count of how many tokens that are already folded or processed(i.e. part of the fingerprint)
		more        = true
		lastComment = sqliToken{}
	)

	s.current = &s.tokenVec[0]
	for more {
		more = s.tokenize()
		if !(s.current.category == sqliTokenTypeComment ||
			s.current.category == sqliTokenTypeLeftParenthesis ||
			s.current.category == sqliTokenTypeSQLType ||
			s.current.isUnaryOp()) {
			break
		}
	}

	if !more {
		// if input was only comments, unary or (, then exit
		return 0
	}
	// it's some other token
	pos++

	for {
		// do we have all the max number of tokens? if so do
		// some special cases for 5 tokens
		if pos >= maxTokens {
			if (s.tokenVec[0].category == sqliTokenTypeNumber &&
				(s.tokenVec[1].category == sqliTokenTypeOperator || s.tokenVec[1].category == sqliTokenTypeComma) &&
				s.tokenVec[2].category == sqliTokenTypeLeftParenthesis &&
				s.tokenVec[3].category == sqliTokenTypeNumber &&
				s.tokenVec[4].category == sqliTokenTypeRightParenthesis) ||
				(s.tokenVec[0].category == sqliTokenTypeBareWord &&
					s.tokenVec[1].category == sqliTokenTypeOperator &&
					s.tokenVec[2].category == sqliTokenTypeLeftParenthesis &&
					(s.tokenVec[3].category == sqliTokenTypeBareWord || s.tokenVec[3].category == sqliTokenTypeNumber) &&
					s.tokenVec[4].category == sqliTokenTypeRightParenthesis) ||
				(s.tokenVec[0].category == sqliTokenTypeNumber &&
					s.tokenVec[1].category == sqliTokenTypeRightParenthesis &&
					s.tokenVec[2].category == sqliTokenTypeComma &&
					s.tokenVec[3].category == sqliTokenTypeLeftParenthesis &&
					s.tokenVec[4].category == sqliTokenTypeNumber) ||
				(s.tokenVec[0].category == sqliTokenTypeBareWord &&
					s.tokenVec[1].category == sqliTokenTypeRightParenthesis &&
					s.tokenVec[2].category == sqliTokenTypeOperator &&
					s.tokenVec[3].category == sqliTokenTypeLeftParenthesis &&
					s.tokenVec[4].category == sqliTokenTypeBareWord) {
				// If we've already read an extra token beyond maxTokens,
				// preserve it by moving it into position 1; otherwise,
				// just reset to start from tokenVec[0] again.
				if pos > maxTokens {
					s.tokenVec[1] = s.tokenVec[maxTokens]
					left = 1
					pos = 2
				} else {
					pos = 1
					left = 0
				}
			}
		}

		if !more || left >= maxTokens {
			left = pos
			break
		}

		// get up to two tokens
		for more && pos <= maxTokens && pos-left < 2 {
			s.current = &s.tokenVec[pos]
			more = s.tokenize()
			if more {
				if s.current.category == sqliTokenTypeComment {
					lastComment = *s.current
				} else {
					lastComment.category = byteNull
					pos++
				}
			}
		}

		// did we get 2 tokens? if not then we are done
		if pos-left < 2 {
			left = pos
			continue
		}

		// FOLD: "ss" -> "s"
		// "foo" "bar" is valid SQL
		// just ignore second string
		switch {
		case s.tokenVec[left].category == sqliTokenTypeString && s.tokenVec[left+1].category == sqliTokenTypeString:
			pos--
			s.statsFolds++
			continue
		case s.tokenVec[left].category == sqliTokenTypeSemiColon && s.tokenVec[left+1].category == sqliTokenTypeSemiColon:
			// not sure how various engines handle
			// 'select 1;;drop table foo' or
			// 'select 1;/x foo x/;drop table foo'
			// to prevent surprises, just fold away repeated semicolons
			pos--
			s.statsFolds++
			continue
		case (s.tokenVec[left].category == sqliTokenTypeOperator || s.tokenVec[left].category == sqliTokenTypeLogicOperator) &&
			(s.tokenVec[left+1].isUnaryOp() || s.tokenVec[left+1].category == sqliTokenTypeSQLType):
			pos--
			s.statsFolds++
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeLeftParenthesis &&
			s.tokenVec[left+1].isUnaryOp():
			pos--
			s.statsFolds++
			if left > 0 {
				left--
			}
			continue
		case s.merge(&s.tokenVec[left], &s.tokenVec[left+1]):
			pos--
			s.statsFolds++
			if left > 0 {
				left--
			}
			continue
		case s.tokenVec[left].category == sqliTokenTypeSemiColon &&
			s.tokenVec[left+1].category == sqliTokenTypeFunction &&
			(s.tokenVec[left+1].val[0] == 'I' || s.tokenVec[left+1].val[0] == 'i') &&
			(s.tokenVec[left+1].val[1] == 'F' || s.tokenVec[left+1].val[1] == 'f'):
			// IF is normally a function, except in Transact-SQL where it can be used as a standalone
			// control flow operator, e.g. IF 1=1...
			// if found after a semicolon, covert from 'f' type to 'F' type
			s.tokenVec[left+1].category = sqliTokenTypeTSQL
			// left += 2
			// reparse everything, but we probably can advance left, and pos
			continue
		case (s.tokenVec[left].category == sqliTokenTypeBareWord || s.tokenVec[left].category == sqliTokenTypeVariable) &&
			s.tokenVec[left+1].category == sqliTokenTypeLeftParenthesis &&
			( // TSQL functions but common enough to be column names
			toUpperCmp("USER_ID", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("USER_NAME", s.tokenVec[left].val[:s.tokenVec[left].len]) ||

				// Function in MySQL
				toUpperCmp("DATABASE", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("PASSWORD", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("USER", s.tokenVec[left].val[:s.tokenVec[left].len]) ||

				// MySQL words that act as a variable and are a function

				// TSQL current_users is fake_variable
				// http://msdn.microsoft.com/en-us/library/ms176050.aspx
				toUpperCmp("CURRENT_USER", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("CURRENT_DATE", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("CURRENT_TIME", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("CURRENT_TIMESTAMP", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("LOCALTIME", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("LOCALTIMESTAMP", s.tokenVec[left].val[:s.tokenVec[left].len])):
			// pos is the same
			// other conversions need to go here... for instance
			// password CAN be a function, coalesce CAN be a funtion
			s.tokenVec[left].category = sqliTokenTypeFunction
			continue
		case s.tokenVec[left].category == sqliTokenTypeKeyword &&
			(toUpperCmp("IN", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("NOT IN", s.tokenVec[left].val[:s.tokenVec[left].len])):
			if s.tokenVec[left+1].category == sqliTokenTypeLeftParenthesis {
				// got ... IN ( ... (or 'NOT IN')
				// it's an operator
				s.tokenVec[left].category = sqliTokenTypeOperator
			} else {
				// it's nothing
				s.tokenVec[left].category = sqliTokenTypeBareWord
			}

			// "IN" can be used as "IN BOOLEAN MODE" for mysql
			// in which case merging of words can be done later
			// otherwise it acts as an equality operator __ IN (values..)
			//
			// here we got "IN" "(" so it's an operator.
			// also, back track to handle "NOT IN"
			// might need to do the same with like
			// two use cases   "foo" LIKE "BAR" (normal operator)
			// "foo" = LIKE(1,2)
			continue
		case s.tokenVec[left].category == sqliTokenTypeOperator &&
			(toUpperCmp("LIKE", s.tokenVec[left].val[:s.tokenVec[left].len]) ||
				toUpperCmp("NOT LIKE", s.tokenVec[left].val[:s.tokenVec[left].len])):
			if s.tokenVec[left+1].category == sqliTokenTypeLeftParenthesis && !isOperandBefore(s, left) {
				// SELECT LIKE(...
				// it's a function.
				// After an operand ("1 LIKE (SELECT 1)") it can only be the
				// binary operator, so leave it alone.
				s.tokenVec[left].category = sqliTokenTypeFunction
			}
		case s.tokenVec[left].category == sqliTokenTypeSQLType &&
			(s.tokenVec[left+1].category == sqliTokenTypeBareWord ||
				s.tokenVec[left+1].category == sqliTokenTypeNumber ||
				s.tokenVec[left+1].category == sqliTokenTypeSQLType ||
				s.tokenVec[left+1].category == sqliTokenTypeLeftParenthesis ||
				s.tokenVec[left+1].category == sqliTokenTypeFunction ||
				s.tokenVec[left+1].category == sqliTokenTypeVariable ||
				s.tokenVec[left+1].category == sqliTokenTypeString):
			s.tokenVec[left] = s.tokenVec[left+1]
			pos--
			s.statsFolds++
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeCollate && s.tokenVec[left+1].category == sqliTokenTypeBareWord:
			// there are too many collation types.. so if the bareword has a "_"
			// then it's TYPE_SQLTYPE
			if strings.IndexByte(s.tokenVec[left+1].val[:s.tokenVec[left+1].len], '_') != -1 {
				s.tokenVec[left+1].category = sqliTokenTypeSQLType
				left = 0
			}
		case s.tokenVec[left].category == sqliTokenTypeBackslash:
			if s.tokenVec[left+1].isArithmeticOp() {
				// very weird case in TSQL where '\%1' is parsed as '0 % 1', etc.
				s.tokenVec[left].category = sqliTokenTypeNumber
			} else {
				// just ignore it. Again TSQL seems to parse \1 as "1"
				s.tokenVec[left] = s.tokenVec[left+1]
				pos--
				s.statsFolds++
			}

			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeLeftParenthesis &&
			s.tokenVec[left+1].category == sqliTokenTypeLeftParenthesis:
			pos--
			left = 0
			s.statsFolds++
			continue
		case s.tokenVec[left].category == sqliTokenTypeRightParenthesis &&
			s.tokenVec[left+1].category == sqliTokenTypeRightParenthesis:
			pos--
			left = 0
			s.statsFolds++
			continue
		case s.tokenVec[left].category == sqliTokenTypeLeftBrace &&
			s.tokenVec[left+1].category == sqliTokenTypeBareWord:
			// MySQL degenerate case
			//
			// select { ``.``.id }; -- valid!!
			// select { ``.``.``.id }; --invalid
			// select ``.``.id; --invalid     todo: this is valid
			// select { ``.id }; --invalid
			//
			// so it appears {``.``.id} is a magic case
			// I suspect this is "current database, current table, field id"
			//
			// The folding code can't look at more than 3 tokens, and
			// I don't want to make two passes.
			//
			// Since "{ ``" so rare, we are just going to blacklist it.
			//
			// Highly likely this will need revisiting!
			//
			// CREDIT @rsalgado 2013-11-25
			if s.tokenVec[left+1].len == 0 {
				s.tokenVec[left+1].category = sqliTokenTypeEvil
				return left + 2
			}

			// weird ODBC / MySQL {foo expr} --> expr
			// but for this rule we just strip away the "{ foo" part
			left = 0
			pos -= 2
			s.statsFolds += 2
			continue
		case s.tokenVec[left+1].category == sqliTokenTypeRightBrace:
			pos--
			left = 0
			s.statsFolds++
			continue
		}

		// all cases of handing 2 token is done
		// and nothing matched. Get one more token
		for more && pos <= maxTokens && pos-left < 3 {
			s.current = &s.tokenVec[pos]
			more = s.tokenize()
			if more {
				if s.current.category == sqliTokenTypeComment {
					lastComment = *s.current
				} else {
					lastComment.category = byteNull
					pos++
				}
			}
		}

		// do we have three tokens? If not then we are done
		if pos-left < 3 {
			left = pos
			continue
		}

		// now look for three token folding
		switch {

		case s.tokenVec[left].category == sqliTokenTypeNumber &&
			s.tokenVec[left+1].category == sqliTokenTypeOperator &&
			s.tokenVec[left+2].category == sqliTokenTypeNumber:
			pos -= 2
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeOperator &&
			s.tokenVec[left+1].category != sqliTokenTypeLeftParenthesis &&
			s.tokenVec[left+2].category == sqliTokenTypeOperator:
			pos -= 2
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeLogicOperator &&
			s.tokenVec[left+2].category == sqliTokenTypeLogicOperator:
			pos -= 2
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeVariable &&
			s.tokenVec[left+1].category == sqliTokenTypeOperator &&
			(s.tokenVec[left+2].category == sqliTokenTypeVariable ||
				s.tokenVec[left+2].category == sqliTokenTypeNumber ||
				s.tokenVec[left+2].category == sqliTokenTypeBareWord):
			pos -= 2
			left = 0
			continue
		case (s.tokenVec[left].category == sqliTokenTypeBareWord ||
			s.tokenVec[left].category == sqliTokenTypeNumber) &&
			s.tokenVec[left+1].category == sqliTokenTypeOperator &&
			(s.tokenVec[left+2].category == sqliTokenTypeNumber ||
				s.tokenVec[left+2].category == sqliTokenTypeBareWord):
			pos -= 2
			left = 0
			continue
		case (s.tokenVec[left].category == sqliTokenTypeBareWord ||
			s.tokenVec[left].category == sqliTokenTypeNumber ||
			s.tokenVec[left].category == sqliTokenTypeVariable ||
			s.tokenVec[left].category == sqliTokenTypeString) &&
			s.tokenVec[left+1].category == sqliTokenTypeOperator &&
			s.tokenVec[left+1].val[:s.tokenVec[left+1].len] == "::" &&
			s.tokenVec[left+2].category == sqliTokenTypeSQLType:
			pos -= 2
			left = 0
			s.statsFolds += 2
			continue
		case (s.tokenVec[left].category == sqliTokenTypeBareWord ||
			s.tokenVec[left].category == sqliTokenTypeNumber ||
			s.tokenVec[left].category == sqliTokenTypeString ||
			s.tokenVec[left].category == sqliTokenTypeVariable) &&
			s.tokenVec[left+1].category == sqliTokenTypeComma &&
			(s.tokenVec[left+2].category == sqliTokenTypeNumber ||
				s.tokenVec[left+2].category == sqliTokenTypeBareWord ||
				s.tokenVec[left+2].category == sqliTokenTypeString ||
				s.tokenVec[left+2].category == sqliTokenTypeVariable):
			pos -= 2
			left = 0
			continue
		case (s.tokenVec[left].category == sqliTokenTypeExpression ||
			s.tokenVec[left].category == sqliTokenTypeGroup ||
			s.tokenVec[left].category == sqliTokenTypeComma) &&
			s.tokenVec[left+1].isUnaryOp() &&
			s.tokenVec[left+2].category == sqliTokenTypeLeftParenthesis:
			// got something like SELECT + (, LIMIT + (
			// remove unary operator
			s.tokenVec[left+1] = s.tokenVec[left+2]
			pos--
			left = 0
			continue
		case (s.tokenVec[left].category == sqliTokenTypeKeyword ||
			s.tokenVec[left].category == sqliTokenTypeExpression ||
			s.tokenVec[left].category == sqliTokenTypeGroup) &&
			s.tokenVec[left+1].isUnaryOp() &&
			(s.tokenVec[left+2].category == sqliTokenTypeNumber ||
				s.tokenVec[left+2].category == sqliTokenTypeBareWord ||
				s.tokenVec[left+2].category == sqliTokenTypeVariable ||
				s.tokenVec[left+2].category == sqliTokenTypeString ||
				s.tokenVec[left+2].category == sqliTokenTypeFunction):
			// remove unary operators
			// select -1
			s.tokenVec[left+1] = s.tokenVec[left+2]
			pos--
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeComma &&
			s.tokenVec[left+1].isUnaryOp() &&
			(s.tokenVec[left+2].category == sqliTokenTypeNumber ||
				s.tokenVec[left+2].category == sqliTokenTypeBareWord ||
				s.tokenVec[left+2].category == sqliTokenTypeVariable ||
				s.tokenVec[left+2].category == sqliTokenTypeString):
			// interesting case turn ", -1" --> ",1" PLUS we need to back up
			// one token if possible to see if more folding can be done
			// "1, -1" --> "1"
			s.tokenVec[left+1] = s.tokenVec[left+2]
			left = 0
			pos -= 3
			continue
		case s.tokenVec[left].category == sqliTokenTypeComma &&
			s.tokenVec[left+1].isUnaryOp() &&
			s.tokenVec[left+2].category == sqliTokenTypeFunction:
			// Separate case from above since you end up with
			// 1,-sin(1) --> 1 (1)
			// Here, just do
			// 1,-sin(1) --> 1,sin(1)
			// just remove unary operator
			s.tokenVec[left+1] = s.tokenVec[left+2]
			pos--
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeBareWord &&
			s.tokenVec[left+1].category == sqliTokenTypeDot &&
			s.tokenVec[left+2].category == sqliTokenTypeBareWord:
			// ignore the '.n'
			// typically is this database name .table
			pos -= 2
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeExpression &&
			s.tokenVec[left+1].category == sqliTokenTypeDot &&
			s.tokenVec[left+2].category == sqliTokenTypeBareWord:
			// select . `foo` --> select `foo`
			s.tokenVec[left+1] = s.tokenVec[left+2]
			pos--
			left = 0
			continue
		case s.tokenVec[left].category == sqliTokenTypeFunction &&
			s.tokenVec[left+1].category == sqliTokenTypeLeftParenthesis &&
			s.tokenVec[left+2].category != sqliTokenTypeRightParenthesis:
			// what's going on here
			// Some SQL functions like USER() have 0 args
			// if we get User(foo), then User is not a function
			// This should be expanded since it eliminated a lot of false
			// positives.
			if toUpperCmp("USER", s.tokenVec[left].val[:s.tokenVec[left].len]) {
				s.tokenVec[left].category = sqliTokenTypeBareWord
			}
		}

		// no folding -- assume left-most token is
		// good, now use the existing 2 tokens --
		// do not get another
		left++
	}

	// if we have 4 or fewer tokens, and we had a comment token
	// at the end, add it back
	if left < maxTokens && lastComment.category == sqliTokenTypeComment {
		s.tokenVec[left] = lastComment
		left++
	}

	// sometimes we grab a 6th token to help
	// determine the type of token 5
	if left > maxTokens {
		left = maxTokens
	}

	return left
}

// isOperandBefore reports whether the committed token before position left is
// an operand (number, string, bareword, variable or closing parenthesis).
// Tokens below left are already folded output, so left-1 is the real
// predecessor.
func isOperandBefore(s *sqliState, left int) bool {
	if left == 0 {
		return false
	}
	switch s.tokenVec[left-1].category {
	case sqliTokenTypeNumber, sqliTokenTypeString, sqliTokenTypeBareWord,
		sqliTokenTypeVariable, sqliTokenTypeRightParenthesis:
		return true
	}
	return false
}
