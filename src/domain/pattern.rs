//! The shapes of the validated inputs of this layer as regular expressions,
//! for the API document (JSON Schema `pattern`, ECMA 262): each is built from
//! the same limits as the parser it describes, so that a request the document
//! calls valid is one the parser accepts, and the other way round.
//!
//! Written with explicit character ranges only (no `\s`, `\d` or `.`), which
//! read the same in every regular-expression dialect a client may use.

/// What `str::trim` removes (Unicode `White_Space`), as a class.
pub const WHITESPACE: &str = r"[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// Any character but whitespace, as a class.
pub fn not_whitespace() -> String {
    format!("[^{}", &WHITESPACE[1..])
}

/// Control characters (`char::is_control`: Unicode `Cc`), as class contents.
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";

/// `core` with any whitespace around it (what a parser that trims accepts).
pub fn padded(core: &str) -> String {
    format!("^{WHITESPACE}*(?:{core}){WHITESPACE}*$")
}

/// Text with no control characters and at least one character that is not
/// whitespace ([`super::org::parse_text`]; its length is the schema's `maxLength`).
pub fn plain_text() -> String {
    format!(r"^[^{CONTROL}]*[^{CONTROL}{ws}][^{CONTROL}]*$", ws = &WHITESPACE[1..WHITESPACE.len() - 1])
}

/// Like [`plain_text`] but also taking line breaks and tabs (note bodies).
pub fn multiline_text() -> String {
    format!(r"^[^{c}]*[^{CONTROL}{ws}][^{c}]*$", c = MULTILINE_CONTROL, ws = &WHITESPACE[1..WHITESPACE.len() - 1])
}

/// Optional remarks: no control characters but line breaks and tabs, and may
/// be empty or blank (meaning none).
pub fn remarks() -> String {
    format!("^[^{MULTILINE_CONTROL}]*$")
}

/// Control characters other than tab, line feed and carriage return.
const MULTILINE_CONTROL: &str = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F";

/// Standard base64 with its padding (what `base64`'s STANDARD engine decodes:
/// canonical, so the unused bits of the last character are zero), padded
/// with whitespace (the handlers trim it).
pub fn base64() -> String {
    padded(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?")
}

/// One of `words`, with any whitespace around it, or nothing but whitespace
/// (a query parameter that trims, where blank means absent).
pub fn blank_or_word(words: &[&str]) -> String {
    padded(&format!("(?:{})?", words.join("|")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern).unwrap().is_match(s)
    }

    #[test]
    fn whitespace_is_what_trim_removes() {
        let class = regex::Regex::new(&format!("^{WHITESPACE}$")).unwrap();
        for c in (0..=0x3000u32).filter_map(char::from_u32).chain(['\u{FEFF}']) {
            assert_eq!(class.is_match(&c.to_string()), c.is_whitespace(), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn text_patterns_agree_with_the_parser() {
        for s in ["a", " a ", "\ta", "a\u{0}", "   ", "", "a\nb", "\u{85}x", "x\u{9F}"] {
            assert_eq!(matches(&plain_text(), s), super::super::org::parse_text(s, 100).is_ok(), "{s:?}");
        }
        assert!(matches(&multiline_text(), "a\nb") && !matches(&multiline_text(), "\n\t "));
        assert!(matches(&remarks(), "") && !matches(&remarks(), "a\u{7}"));
    }

    #[test]
    fn base64_is_canonical_standard_base64() {
        use base64::Engine;
        for s in ["", "AA==", "AB==", "AAA=", "AAB=", "AAAA", "QUJD", " QUJD\n", "QUJ", "Q===", "QU=D", "-_AA"] {
            let decodes = base64::engine::general_purpose::STANDARD.decode(s.trim()).is_ok();
            assert_eq!(matches(&base64(), s), decodes, "{s:?}");
        }
    }
}
