//! Just enough DER (X.690) to read certificates and to write and read the CMS
//! SignedData of a PDF signature: a reader of one element at a time, and a
//! writer of the few types CMS uses.

/// Reads the first element of `input`: (tag, contents, the whole element, rest).
pub fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some((tag, &rest[..len], &input[..header + len], &rest[len..]))
}

/// Every element inside `contents`, in order; `None` if any is malformed.
pub fn elements(mut contents: &[u8]) -> Option<Vec<(u8, &[u8], &[u8])>> {
    let mut out = Vec::new();
    while !contents.is_empty() {
        let (tag, body, whole, rest) = element(contents)?;
        out.push((tag, body, whole));
        contents = rest;
    }
    Some(out)
}

/// An element with `tag` around `contents`.
pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// SEQUENCE of already-encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// SET OF already-encoded parts, sorted as DER requires.
pub fn set_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut sorted: Vec<&[u8]> = parts.to_vec();
    sorted.sort();
    tlv(0x31, &sorted.concat())
}

/// OBJECT IDENTIFIER from its dotted form (a constant of ours: panics on a bad one).
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().expect("a numeric arc")).collect();
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(0x06, &body)
}

/// A small non-negative INTEGER.
pub fn small_int(n: u8) -> Vec<u8> {
    if n < 0x80 { tlv(0x02, &[n]) } else { tlv(0x02, &[0, n]) }
}

/// OCTET STRING.
pub fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(0x04, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_it_reads() {
        // sha256, as every CMS reader knows it.
        assert_eq!(oid("2.16.840.1.101.3.4.2.1"), [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]);
        let long = vec![7u8; 300];
        let enc = octets(&long);
        assert_eq!(&enc[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let (tag, body, whole, rest) = element(&enc).unwrap();
        assert_eq!((tag, body, whole.len(), rest.len()), (0x04, &long[..], 304, 0));
        let s = set_of(&[&small_int(3), &small_int(1)]);
        assert_eq!(s, [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x03]);
        assert_eq!(elements(&s[2..]).unwrap().len(), 2);
        assert!(element(&[0x30, 0x05, 0x01]).is_none());
    }
}
