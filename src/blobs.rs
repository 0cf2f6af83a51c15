//! The content-addressed blob store under `data_dir/blobs/`: each original is
//! stored once, named by its SHA-256, written to a temporary file, fsync'd,
//! then renamed into place, and never modified afterwards.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

/// A blob being written: hashed and counted as it streams in.
pub struct Incoming {
    path: PathBuf,
    file: File,
    digest: ring::digest::Context,
    size: u64,
    head: Vec<u8>,
}

impl Incoming {
    /// Appends a chunk.
    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if self.head.len() < 16 {
            let take = (16 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.digest.update(chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk)
    }

    /// Bytes so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first bytes, for type sniffing.
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // Committed blobs were renamed away; anything left is abandoned.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl BlobStore {
    /// The store in `data_dir/blobs`.
    pub fn new(data_dir: &Path) -> BlobStore {
        BlobStore { root: data_dir.join("blobs") }
    }

    /// Starts a new blob.
    pub fn incoming(&self) -> std::io::Result<Incoming> {
        let tmp = self.root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let path = tmp.join(crate::store::new_id());
        let file = File::create(&path)?;
        Ok(Incoming {
            path,
            file,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
            head: Vec::new(),
        })
    }

    /// Makes the blob durable under its hash; returns the hash (hex). If the
    /// same content is already stored, the new copy is dropped.
    pub fn commit(&self, mut incoming: Incoming) -> std::io::Result<String> {
        incoming.file.sync_all()?;
        let digest =
            std::mem::replace(&mut incoming.digest, ring::digest::Context::new(&ring::digest::SHA256)).finish();
        let sha = crate::pki::hex(digest.as_ref());
        let dest = self.path(&sha);
        if !dest.exists() {
            let dir = dest.parent().expect("blob paths have a parent");
            std::fs::create_dir_all(dir)?;
            std::fs::rename(&incoming.path, &dest)?;
            File::open(dir)?.sync_all()?;
        }
        Ok(sha)
    }

    /// Where the blob with this hash lives.
    pub fn path(&self, sha: &str) -> PathBuf {
        let prefix = sha.get(..2).unwrap_or("00");
        self.root.join(prefix).join(sha)
    }
}

/// The media type of a document, judged by its first bytes (never its name).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if head.starts_with(b"II*\x00") || head.starts_with(b"MM\x00*") {
        Some("image/tiff")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_judged_by_content() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(sniff(b"MM\x00*"), Some("image/tiff"));
        assert_eq!(sniff(b"\x7fELF\x02\x01"), None);
        assert_eq!(sniff(b"MZ\x90\x00"), None);
    }

    #[test]
    fn identical_content_is_stored_once() {
        let dir = std::env::temp_dir().join(format!("daftar-blobs-{}", crate::store::new_id()));
        let store = BlobStore::new(&dir);
        let mut a = store.incoming().unwrap();
        a.write(b"%PDF-1.4 same").unwrap();
        let sha_a = store.commit(a).unwrap();
        let mut b = store.incoming().unwrap();
        b.write(b"%PDF-1.4 ").unwrap();
        b.write(b"same").unwrap();
        let sha_b = store.commit(b).unwrap();
        assert_eq!(sha_a, sha_b);
        assert_eq!(std::fs::read(store.path(&sha_a)).unwrap(), b"%PDF-1.4 same");
        assert_eq!(std::fs::read_dir(dir.join("blobs/tmp")).unwrap().count(), 0, "no temporary files left");
        let _ = std::fs::remove_dir_all(dir);
    }
}
