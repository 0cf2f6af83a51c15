//! Drawing the compliance PDFs with lopdf: A4 pages of text (the standard
//! Helvetica faces, WinAnsi encoding), rules, filled bars, and a data stream
//! the certificate carries for machines (its signed facts as JSON).

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, dictionary};

/// A4 in points.
pub const WIDTH: f32 = 595.28;
/// A4 in points.
pub const HEIGHT: f32 = 841.89;
/// The margin all round.
pub const MARGIN: f32 = 56.0;

/// A document being drawn, page by page.
pub struct Pages {
    pages: Vec<Vec<Operation>>,
    /// Page width and height in points.
    size: (f32, f32),
}

/// Text as WinAnsi bytes: Latin-1 characters as they are, anything else `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars().map(|c| if (c as u32) < 0x100 && !c.is_control() { c as u8 } else { b'?' }).collect()
}

/// Rough width of `s` in Helvetica at `size` (points): good enough to wrap
/// and to right-align figures.
pub fn width_of(s: &str, size: f32) -> f32 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' | ' ' => 0.28,
            'm' | 'w' | 'M' | 'W' => 0.83,
            c if c.is_ascii_uppercase() => 0.67,
            c if c.is_ascii_digit() => 0.556,
            _ => 0.5,
        })
        .sum::<f32>()
        * size
}

/// `text` broken into lines no wider than `width` at `size`.
pub fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if width_of(&candidate, size) > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

impl Default for Pages {
    fn default() -> Self {
        Pages::new()
    }
}

impl Pages {
    /// A document with one empty page.
    pub fn new() -> Pages {
        Pages::sized(WIDTH, HEIGHT)
    }

    /// A document of pages `width` × `height` points, with one empty page.
    pub fn sized(width: f32, height: f32) -> Pages {
        Pages { pages: vec![Vec::new()], size: (width, height) }
    }

    /// Starts a new page.
    pub fn page(&mut self) {
        self.pages.push(Vec::new());
    }

    fn ops(&mut self) -> &mut Vec<Operation> {
        self.pages.last_mut().expect("there is always a page")
    }

    /// Text at (x, y) from the bottom left.
    pub fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str) {
        let font = if bold { "F2" } else { "F1" };
        self.ops().extend([
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec![font.into(), size.into()]),
            Operation::new("Td", vec![x.into(), y.into()]),
            Operation::new("Tj", vec![Object::string_literal(win_ansi(s))]),
            Operation::new("ET", vec![]),
        ]);
    }

    /// Text ending at x.
    pub fn text_right(&mut self, x: f32, y: f32, size: f32, bold: bool, s: &str) {
        self.text(x - width_of(s, size), y, size, bold, s);
    }

    /// A paragraph from (x, y) downwards; returns the y below it.
    pub fn paragraph(&mut self, x: f32, y: f32, size: f32, width: f32, s: &str) -> f32 {
        let mut y = y;
        for line in wrap(s, size, width) {
            self.text(x, y, size, false, &line);
            y -= size * 1.35;
        }
        y
    }

    /// A straight line.
    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        self.ops().extend([
            Operation::new("w", vec![width.into()]),
            Operation::new("m", vec![x1.into(), y1.into()]),
            Operation::new("l", vec![x2.into(), y2.into()]),
            Operation::new("S", vec![]),
        ]);
    }

    /// A filled rectangle in an RGB colour (0–1 each).
    pub fn bar(&mut self, x: f32, y: f32, w: f32, h: f32, rgb: (f32, f32, f32)) {
        self.ops().extend([
            Operation::new("q", vec![]),
            Operation::new("rg", vec![rgb.0.into(), rgb.1.into(), rgb.2.into()]),
            Operation::new("re", vec![x.into(), y.into(), w.into(), h.into()]),
            Operation::new("f", vec![]),
            Operation::new("Q", vec![]),
        ]);
    }

    /// The finished document, its first page, and its catalog. `title` goes
    /// in the document information; `data`, when given, is kept as a JSON
    /// stream named from the catalog by `/DaftarData`.
    pub fn finish(self, title: &str, data: Option<&[u8]>) -> Result<(Document, ObjectId), String> {
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let font = |base: &str| {
            dictionary! {"Type" => "Font", "Subtype" => "Type1", "BaseFont" => base, "Encoding" => "WinAnsiEncoding"}
        };
        let regular = doc.add_object(font("Helvetica"));
        let bold = doc.add_object(font("Helvetica-Bold"));
        let resources = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => regular, "F2" => bold}});
        let mut kids = Vec::new();
        let (width, height) = self.size;
        for ops in self.pages {
            let content = Content { operations: ops }.encode().map_err(|e| format!("pdf: {e}"))?;
            let content_id = doc.add_object(Stream::new(Dictionary::new(), content));
            let page = doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content_id,
                "Resources" => resources,
                "MediaBox" => vec![0.into(), 0.into(), width.into(), height.into()],
            });
            kids.push(Object::Reference(page));
        }
        let first = kids.first().and_then(|k| k.as_reference().ok()).ok_or("pdf: no pages")?;
        let count = kids.len() as i64;
        doc.objects
            .insert(pages_id, Object::Dictionary(dictionary! {"Type" => "Pages", "Kids" => kids, "Count" => count}));
        let mut catalog = dictionary! {"Type" => "Catalog", "Pages" => pages_id};
        if let Some(data) = data {
            let stream =
                Stream::new(dictionary! {"Type" => "DaftarData", "Subtype" => "application/json"}, data.to_vec())
                    .with_compression(false);
            catalog.set("DaftarData", doc.add_object(stream));
        }
        let catalog_id = doc.add_object(catalog);
        doc.trailer.set("Root", catalog_id);
        let info = doc.add_object(dictionary! {
            "Title" => Object::string_literal(win_ansi(title)),
            "Producer" => Object::string_literal("Daftar"),
        });
        doc.trailer.set("Info", info);
        Ok((doc, first))
    }
}

/// The `/DaftarData` JSON a PDF made by [`Pages::finish`] carries; `None`
/// when there is none or the file cannot be read.
pub fn data_of(pdf: &[u8]) -> Option<serde_json::Value> {
    let pdf = pdf.to_vec();
    // A hostile file must not take the server down with it.
    std::panic::catch_unwind(move || {
        let doc = Document::load_mem(&pdf).ok()?;
        let root = doc.trailer.get(b"Root").ok()?.as_reference().ok()?;
        let data = doc.get_dictionary(root).ok()?.get(b"DaftarData").ok()?.as_reference().ok()?;
        let stream = doc.get_object(data).ok()?.as_stream().ok()?;
        let bytes = stream.decompressed_content().unwrap_or_else(|_| stream.content.clone());
        serde_json::from_slice(&bytes).ok()
    })
    .ok()
    .flatten()
}
