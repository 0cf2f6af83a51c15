//! The ledger's Merkle tree, as in RFC 9162 (Certificate Transparency 2.0):
//! leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right), the
//! split at the largest power of two below n. Inclusion proofs let a bundle
//! prove its entries against a signed checkpoint without the whole ledger.

/// A 32-byte hash.
pub type Hash = [u8; 32];

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// The leaf hash of an entry's canonical bytes.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0x00], entry])
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

fn split(n: usize) -> usize {
    // The largest power of two strictly less than n (n >= 2).
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root of the tree over `leaves` (leaf hashes, in order).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path proving leaf `index` is in the tree over `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 || index >= n {
        return Vec::new();
    }
    let k = split(n);
    if index < k {
        let mut path = inclusion_proof(&leaves[..k], index);
        path.push(root(&leaves[k..]));
        path
    } else {
        let mut path = inclusion_proof(&leaves[k..], index - k);
        path.push(root(&leaves[..k]));
        path
    }
}

/// Checks an audit path (RFC 9162 section 2.1.3.2): whether `leaf` is entry
/// `index` of a tree of `size` leaves with root `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &r == root
}

/// A complete, aligned subtree: `(level, idx)` covers leaves
/// `[idx * 2^level, (idx + 1) * 2^level)`; level 0 is a leaf.
pub type NodeId = (u32, u64);

/// The complete subtrees whose hashes make up the hash of leaves `[a, b)`,
/// a range of the RFC 9162 shape (as roots and audit paths use).
pub fn range_nodes(a: u64, b: u64, out: &mut Vec<NodeId>) {
    let n = b - a;
    if n == 0 {
        return;
    }
    if n.is_power_of_two() && a.is_multiple_of(n) {
        out.push((n.trailing_zeros(), a >> n.trailing_zeros()));
        return;
    }
    let k = split(n as usize) as u64;
    range_nodes(a, a + k, out);
    range_nodes(a + k, b, out);
}

/// The hash of leaves `[a, b)` from the hashes of complete subtrees.
pub fn range_hash(a: u64, b: u64, node: &impl Fn(NodeId) -> Option<Hash>) -> Option<Hash> {
    let n = b - a;
    if n == 0 {
        return Some(sha256(&[]));
    }
    if n.is_power_of_two() && a.is_multiple_of(n) {
        return node((n.trailing_zeros(), a >> n.trailing_zeros()));
    }
    let k = split(n as usize) as u64;
    Some(node_hash(&range_hash(a, a + k, node)?, &range_hash(a + k, b, node)?))
}

/// The ranges whose hashes form the audit path of leaf `index` in a tree of
/// `size` leaves, in the order [`inclusion_proof`] gives them.
pub fn proof_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    fn walk(m: u64, a: u64, b: u64, out: &mut Vec<(u64, u64)>) {
        if b - a <= 1 {
            return;
        }
        let k = split((b - a) as usize) as u64;
        if m < a + k {
            walk(m, a, a + k, out);
            out.push((a + k, b));
        } else {
            walk(m, a + k, b, out);
            out.push((a, a + k));
        }
    }
    let mut out = Vec::new();
    if index < size {
        walk(index, 0, size, &mut out);
    }
    out
}

/// The complete subtrees that cover the first `size` leaves, largest first:
/// all that appending needs to know of what came before.
pub fn frontier(size: u64) -> Vec<NodeId> {
    (0..64u32).rev().filter(|l| size & (1 << l) != 0).map(|l| (l, (size >> l) - 1)).collect()
}

/// Appends leaves to a tree of `size` leaves whose [`frontier`] hashes are
/// `front` (in that order); returns the new complete subtrees of level 1 and
/// up, to be stored.
pub fn append(size: u64, front: &[Hash], leaves: &[Hash]) -> Vec<(NodeId, Hash)> {
    // The stack of frontier subtrees, smallest on top.
    let mut stack: Vec<(u32, Hash)> = frontier(size).iter().map(|(l, _)| *l).zip(front.iter().copied()).collect();
    let mut out = Vec::new();
    for (n, leaf) in (size..).zip(leaves) {
        let (mut level, mut hash) = (0u32, *leaf);
        let mut idx = n;
        // A right child completes its parent with the left sibling on the stack.
        while idx & 1 == 1 {
            let (_, left) = stack.pop().expect("the frontier holds the left sibling");
            hash = node_hash(&left, &hash);
            level += 1;
            idx >>= 1;
            out.push(((level, idx), hash));
        }
        stack.push((level, hash));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
    }

    #[test]
    fn every_leaf_of_every_size_proves_inclusion() {
        for n in 1..=33 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let path = inclusion_proof(&l, i);
                assert!(verify_inclusion(&l[i], i as u64, n as u64, &path, &r), "n={n} i={i}");
                // The wrong leaf, index or size fails.
                let other = leaf_hash(b"forged");
                assert!(!verify_inclusion(&other, i as u64, n as u64, &path, &r));
                if n > 1 {
                    assert!(!verify_inclusion(&l[i], ((i + 1) % n) as u64, n as u64, &path, &r), "n={n} i={i}");
                }
            }
        }
    }

    #[test]
    fn known_shapes() {
        let l = leaves(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(root(&l[..1]), l[0]);
        // Reordering changes the root.
        let swapped = vec![l[1], l[0], l[2]];
        assert_ne!(root(&swapped), root(&l));
    }
    #[test]
    fn stored_subtrees_give_the_same_roots_and_proofs() {
        let all = leaves(70);
        let mut nodes: std::collections::HashMap<NodeId, Hash> = std::collections::HashMap::new();
        let mut size = 0u64;
        // Appended in uneven batches, as the sealer does.
        for batch in [1usize, 2, 5, 1, 17, 30, 14] {
            let front: Vec<Hash> =
                frontier(size).iter().map(|id| if id.0 == 0 { all[id.1 as usize] } else { nodes[id] }).collect();
            let batch_leaves = &all[size as usize..size as usize + batch];
            nodes.extend(append(size, &front, batch_leaves));
            size += batch as u64;
        }
        assert_eq!(size, 70);
        let node = |id: NodeId| if id.0 == 0 { all.get(id.1 as usize).copied() } else { nodes.get(&id).copied() };
        for n in 1..=70u64 {
            let prefix = &all[..n as usize];
            assert_eq!(range_hash(0, n, &node), Some(root(prefix)), "root of {n}");
            let mut ids = Vec::new();
            range_nodes(0, n, &mut ids);
            assert!(ids.iter().all(|id| node(*id).is_some()));
            for i in [0, n / 2, n - 1] {
                let path: Vec<Hash> =
                    proof_ranges(i, n).iter().map(|(a, b)| range_hash(*a, *b, &node).unwrap()).collect();
                assert_eq!(path, inclusion_proof(prefix, i as usize), "n={n} i={i}");
            }
        }
    }
}
