//! The preflight wire format: the request body we send and a strict reader for the answer.
//!
//! The answer decides whether a program runs, so it is read strictly, by hand: serde_json would
//! silently keep the last of two `allowed` keys. Only one JSON object with exactly one top-level
//! boolean `allowed` decides; anything else is a `Malformed` answer.

use std::fmt;

/// Largest answer body accepted (bytes).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Deepest nesting accepted inside an answer.
const MAX_DEPTH: usize = 64;

/// `{"agent":A,"session":S,"params":{"command":C},"cwd":D,"enforce":true}` (LIB-REQ-2); `cwd` (the
/// directory relative paths in the command mean) is left out when it cannot be read; `enforce` is
/// false in monitor mode, so the server records the decision as observed, not enforced.
pub fn preflight_body(agent: &str, session: &str, command: &str, cwd: Option<&str>, enforce: bool) -> String {
    let capacity = 80 + agent.len() + session.len() + command.len() * 2 + cwd.map_or(0, str::len);
    let mut body = String::with_capacity(capacity);
    body.push_str("{\"agent\":");
    push_json_string(&mut body, agent);
    body.push_str(",\"session\":");
    push_json_string(&mut body, session);
    body.push_str(",\"params\":{\"command\":");
    push_json_string(&mut body, command);
    body.push('}');
    if let Some(cwd) = cwd {
        body.push_str(",\"cwd\":");
        push_json_string(&mut body, cwd);
    }
    body.push_str(if enforce {
        ",\"enforce\":true}"
    } else {
        ",\"enforce\":false}"
    });
    body
}

fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A well-formed answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub allowed: bool,
    /// The top-level `message` string, unescaped, when there is one.
    pub message: Option<String>,
}

/// Why an answer body cannot decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    NotUtf8,
    /// Not JSON; what was wrong and at which byte offset.
    Syntax(&'static str, usize),
    NotAnObject,
    MissingAllowed,
    DuplicateAllowed,
    AllowedNotBoolean,
    TrailingData(usize),
    TooDeep,
    TooLarge,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::NotUtf8 => write!(f, "answer is not UTF-8"),
            Malformed::Syntax(what, at) => write!(f, "answer is not JSON ({what} at byte {at})"),
            Malformed::NotAnObject => write!(f, "answer is not a JSON object"),
            Malformed::MissingAllowed => write!(f, "answer has no top-level \"allowed\""),
            Malformed::DuplicateAllowed => write!(f, "answer has \"allowed\" more than once"),
            Malformed::AllowedNotBoolean => write!(f, "answer's \"allowed\" is not a boolean"),
            Malformed::TrailingData(at) => write!(f, "answer has data after the JSON object (byte {at})"),
            Malformed::TooDeep => write!(f, "answer nests deeper than {MAX_DEPTH} levels"),
            Malformed::TooLarge => write!(f, "answer is larger than {} KiB", MAX_ANSWER_BYTES / 1024),
        }
    }
}

/// Reads an answer body strictly (see the module comment).
pub fn parse_answer(body: &[u8]) -> Result<Answer, Malformed> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(Malformed::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| Malformed::NotUtf8)?;
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    scanner.skip_ws();
    if scanner.peek() != Some(b'{') {
        // Tell "valid JSON, wrong shape" from "not JSON at all".
        scanner.value(0)?;
        return Err(Malformed::NotAnObject);
    }
    scanner.pos += 1;

    let mut allowed: Option<bool> = None;
    let mut message: Option<String> = None;
    scanner.skip_ws();
    if scanner.peek() == Some(b'}') {
        scanner.pos += 1;
    } else {
        loop {
            scanner.skip_ws();
            let key = scanner.string()?;
            scanner.skip_ws();
            scanner.expect(b':', "expected ':'")?;
            scanner.skip_ws();
            let value = scanner.value(1)?;
            match key.as_str() {
                "allowed" => {
                    if allowed.is_some() {
                        return Err(Malformed::DuplicateAllowed);
                    }
                    match value {
                        Value::Bool(b) => allowed = Some(b),
                        _ => return Err(Malformed::AllowedNotBoolean),
                    }
                }
                "message" => {
                    if let (None, Value::Str(text)) = (&message, value) {
                        message = Some(text);
                    }
                }
                _ => {}
            }
            scanner.skip_ws();
            match scanner.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => {
                    return Err(Malformed::Syntax(
                        "expected ',' or '}'",
                        scanner.pos.saturating_sub(1),
                    ));
                }
            }
        }
    }
    scanner.skip_ws();
    if scanner.pos < scanner.bytes.len() {
        return Err(Malformed::TrailingData(scanner.pos));
    }
    match allowed {
        Some(allowed) => Ok(Answer { allowed, message }),
        None => Err(Malformed::MissingAllowed),
    }
}

/// What the scanner keeps of a value: only what a top-level member needs.
enum Value {
    Bool(bool),
    Str(String),
    Other,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek();
        if byte.is_some() {
            self.pos += 1;
        }
        byte
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), Malformed> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Malformed::Syntax(what, self.pos))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Malformed> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Malformed::Syntax("invalid literal", self.pos))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed::TooDeep);
        }
        match self.peek() {
            Some(b'{') => {
                self.container(depth, b'}', true)?;
                Ok(Value::Other)
            }
            Some(b'[') => {
                self.container(depth, b']', false)?;
                Ok(Value::Other)
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.literal(b"true").map(|()| Value::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Value::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| Value::Other),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| Value::Other),
            Some(_) => Err(Malformed::Syntax("unexpected character", self.pos)),
            None => Err(Malformed::Syntax("unexpected end", self.pos)),
        }
    }

    /// An object (members `"key": value`) or an array, opening bracket at `pos`.
    fn container(&mut self, depth: usize, close: u8, object: bool) -> Result<(), Malformed> {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            if object {
                self.string()?;
                self.skip_ws();
                self.expect(b':', "expected ':'")?;
                self.skip_ws();
            }
            self.value(depth + 1)?;
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(byte) if byte == close => return Ok(()),
                _ => {
                    return Err(Malformed::Syntax(
                        "expected ',' or a closing bracket",
                        self.pos.saturating_sub(1),
                    ));
                }
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), Malformed> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Malformed::Syntax("invalid number", self.pos)),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Malformed::Syntax("invalid number", self.pos));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(Malformed::Syntax("invalid number", self.pos));
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Malformed> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .next()
                .and_then(|b| (b as char).to_digit(16))
                .ok_or(Malformed::Syntax("invalid \\u escape", self.pos))?;
            code = code * 16 + digit;
        }
        Ok(code)
    }

    /// A string at `pos` (which must be `"`), unescaped. Lone surrogates become U+FFFD.
    fn string(&mut self) -> Result<String, Malformed> {
        self.expect(b'"', "expected a string")?;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // The input is valid UTF-8 and we only stopped at ASCII bytes, so this is a char boundary.
            out.push_str(
                std::str::from_utf8(self.bytes.get(start..self.pos).unwrap_or_default()).unwrap_or_default(),
            );
            match self.next() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => {
                    let escaped = match self.next() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(Malformed::Syntax("invalid escape", self.pos.saturating_sub(1))),
                    };
                    out.push(escaped);
                }
                Some(_) => {
                    return Err(Malformed::Syntax(
                        "control character in string",
                        self.pos.saturating_sub(1),
                    ));
                }
                None => return Err(Malformed::Syntax("unterminated string", self.pos)),
            }
        }
    }

    /// The character of a `\uXXXX` escape (the `\u` already read), joining surrogate pairs.
    fn unicode_escape(&mut self) -> Result<char, Malformed> {
        let high = self.hex4()?;
        if (0xD800..0xDC00).contains(&high) && self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.pos = save;
        }
        Ok(char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Answer, Malformed> {
        parse_answer(text.as_bytes())
    }

    #[test]
    fn request_body_has_the_documented_shape() {
        assert_eq!(
            preflight_body("preload", "s-1", "ls -la", Some("/work"), true),
            r#"{"agent":"preload","session":"s-1","params":{"command":"ls -la"},"cwd":"/work","enforce":true}"#
        );
        assert_eq!(
            preflight_body("preload", "s-1", "ls", None, false),
            r#"{"agent":"preload","session":"s-1","params":{"command":"ls"},"enforce":false}"#
        );
    }

    #[test]
    fn request_body_escapes_json_specials() {
        let body = preflight_body("a\"b", "s\\1", "echo 'x'\n\t\u{1}\u{7f}é", Some("/a\"b"), true);
        assert_eq!(
            body,
            r#"{"agent":"a\"b","session":"s\\1","params":{"command":"echo 'x'\n\t\u0001\u007fé"},"cwd":"/a\"b","enforce":true}"#
        );
        // Our own reader accepts what we write.
        assert!(parse(&body.replace("\"enforce\":true", "\"allowed\":true")).is_ok());
    }

    #[test]
    fn allow_and_deny_with_message() {
        assert_eq!(
            parse(r#"{"allowed":true}"#),
            Ok(Answer {
                allowed: true,
                message: None
            })
        );
        assert_eq!(
            parse(
                " {\"allowed\": false, \"message\": \"Destructive command blocked\", \"decision\":\"deny\"}\n"
            ),
            Ok(Answer {
                allowed: false,
                message: Some("Destructive command blocked".into())
            })
        );
    }

    #[test]
    fn other_keys_of_any_shape_are_ignored() {
        let text = r#"{"decision":"allow","matched_policies":[{"allowed":false},null,1.5e-3,-0,"x"],
            "nested":{"allowed":"no","deep":[[[]]]},"allowed":true,"eval_duration_us":12}"#;
        assert_eq!(
            parse(text),
            Ok(Answer {
                allowed: true,
                message: None
            })
        );
    }

    #[test]
    fn message_is_unescaped() {
        let text = r#"{"allowed":false,"message":"rm \"-rf\" \\ \u00e9 \ud83d\ude00 \/ok"}"#;
        assert_eq!(
            parse(text).ok().and_then(|a| a.message).as_deref(),
            Some("rm \"-rf\" \\ é 😀 /ok")
        );
        let lone = r#"{"allowed":false,"message":"\ud800x"}"#;
        assert_eq!(
            parse(lone).ok().and_then(|a| a.message).as_deref(),
            Some("\u{fffd}x")
        );
    }

    #[test]
    fn non_string_message_is_no_message() {
        assert_eq!(
            parse(r#"{"allowed":false,"message":42}"#),
            Ok(Answer {
                allowed: false,
                message: None
            })
        );
    }

    #[test]
    fn allowed_missing_or_only_nested_does_not_decide() {
        assert_eq!(parse("{}"), Err(Malformed::MissingAllowed));
        assert_eq!(parse(r#"{"decision":"allow"}"#), Err(Malformed::MissingAllowed));
        assert_eq!(
            parse(r#"{"result":{"allowed":true}}"#),
            Err(Malformed::MissingAllowed)
        );
    }

    #[test]
    fn duplicated_allowed_does_not_decide_even_when_escaped() {
        assert_eq!(
            parse(r#"{"allowed":false,"allowed":true}"#),
            Err(Malformed::DuplicateAllowed)
        );
        assert_eq!(
            parse(r#"{"allowed":true,"allow\u0065d":true}"#),
            Err(Malformed::DuplicateAllowed)
        );
    }

    #[test]
    fn allowed_must_be_a_boolean() {
        for value in [r#""true""#, "1", "null", "[true]", "{}", "0"] {
            assert_eq!(
                parse(&format!("{{\"allowed\":{value}}}")),
                Err(Malformed::AllowedNotBoolean),
                "{value}"
            );
        }
    }

    #[test]
    fn not_an_object() {
        assert_eq!(parse("true"), Err(Malformed::NotAnObject));
        assert_eq!(parse(r#"[{"allowed":true}]"#), Err(Malformed::NotAnObject));
        assert_eq!(parse(r#""allowed""#), Err(Malformed::NotAnObject));
    }

    #[test]
    fn malformed_json_is_rejected() {
        for text in [
            "",
            "   ",
            "{",
            r#"{"allowed":true"#,
            r#"{"allowed":tru}"#,
            r#"{"allowed":true,}"#,
            r#"{allowed:true}"#,
            r#"{'allowed':true}"#,
            r#"{"allowed" true}"#,
            r#"{"allowed":true "x":1}"#,
            r#"{"allowed":true,"x":01}"#,
            r#"{"allowed":true,"x":1.}"#,
            r#"{"allowed":true,"x":-}"#,
            r#"{"allowed":true,"x":1e}"#,
            r#"{"allowed":true,"x":"a\qb"}"#,
            r#"{"allowed":true,"x":"\u12"}"#,
            "{\"allowed\":true,\"x\":\"tab\there\"}",
            r#"{"allowed":true,"x":[1,]}"#,
            r#"{"allowed":true,"x":NaN}"#,
            "\u{feff}{\"allowed\":true}",
        ] {
            assert!(
                matches!(parse(text), Err(Malformed::Syntax(..))),
                "{text:?} -> {:?}",
                parse(text)
            );
        }
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        assert_eq!(parse(r#"{"allowed":true}x"#), Err(Malformed::TrailingData(16)));
        assert_eq!(
            parse(r#"{"allowed":true}{"allowed":false}"#),
            Err(Malformed::TrailingData(16))
        );
        assert_eq!(
            parse("{\"allowed\":true}\n\n"),
            Ok(Answer {
                allowed: true,
                message: None
            })
        );
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        assert_eq!(
            parse_answer(b"{\"allowed\":true,\"m\":\"\xff\"}"),
            Err(Malformed::NotUtf8)
        );
    }

    #[test]
    fn size_limit_is_64_kib() {
        let pad = |n: usize| format!("{{\"allowed\":true,\"p\":\"{}\"}}", "x".repeat(n));
        let exact = pad(MAX_ANSWER_BYTES - pad(0).len());
        assert_eq!(exact.len(), MAX_ANSWER_BYTES);
        assert!(parse(&exact).is_ok());
        assert_eq!(parse(&pad(MAX_ANSWER_BYTES)), Err(Malformed::TooLarge));
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflowing_the_stack() {
        let deep = format!(
            "{{\"allowed\":true,\"x\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert_eq!(parse(&deep), Err(Malformed::TooDeep));
        let fine = format!("{{\"allowed\":true,\"x\":{}{}}}", "[".repeat(20), "]".repeat(20));
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn every_prefix_of_a_valid_answer_is_rejected() {
        let text = r#"{"allowed":false,"message":"no \"way\"","policies":[{"a":[1,2.5e3,true,null]}]}"#;
        assert!(parse(text).is_ok());
        for end in 0..text.len() {
            assert!(parse(&text[..end]).is_err(), "prefix {end} accepted");
        }
    }
}
