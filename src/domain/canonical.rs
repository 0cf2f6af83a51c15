//! Canonical JSON (RFC 8785) and SHA-256: the bytes that signatures and the
//! ledger's hashes are computed over, the same on every machine.

use serde_json::Value;

/// RFC 8785 canonical JSON of a value made of objects, arrays, strings,
/// integers, booleans and null: keys sorted, no insignificant whitespace.
/// (serde_json's maps are ordered and its string escaping matches JCS.)
pub fn canonical_json(value: &Value) -> Vec<u8> {
    debug_assert!(!contains_float(value), "canonical payloads carry no floats");
    serde_json::to_vec(value).expect("a JSON value always serialises")
}

/// Whether `v` holds a number that is not an integer (canonical payloads never do).
pub fn contains_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(contains_float),
        Value::Object(o) => o.values().any(contains_float),
        _ => false,
    }
}

/// SHA-256, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_keeps_text_exactly() {
        let v = serde_json::json!({"b": 1, "a": "یہ فائل\n\"x\"", "c": null});
        assert_eq!(
            String::from_utf8(canonical_json(&v)).unwrap(),
            "{\"a\":\"یہ فائل\\n\\\"x\\\"\",\"b\":1,\"c\":null}"
        );
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
