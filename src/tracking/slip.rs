//! The acknowledgement slip the registry prints for a sender: an A6 page with
//! the diary number, the tracking code as text and as a QR code of the
//! tracking link, and how to use them.

use crate::compliance::pdf::Pages;

/// A6 in points.
const A6: (f32, f32) = (297.64, 419.53);

/// The tracking link for a letter: what the QR code holds.
pub fn link(base_url: &str, diary_no: &str, code: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!("{base_url}/track/{}?code={}", enc(diary_no), enc(code))
}

/// The slip as PDF bytes.
pub fn pdf(
    organisation: &str,
    entity: &str,
    diary_no: &str,
    received_on: &str,
    code: &str,
    link: &str,
) -> Result<Vec<u8>, String> {
    let qr = qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| format!("qr: {e}"))?;
    let (w, h) = A6;
    let margin = 24.0;
    let mut p = Pages::sized(w, h);
    let mut y = h - margin - 12.0;
    p.text(margin, y, 12.0, true, "Acknowledgement of receipt");
    y -= 16.0;
    p.text(margin, y, 9.0, false, organisation);
    y -= 12.0;
    p.text(margin, y, 9.0, false, entity);
    y -= 20.0;
    p.text(margin, y, 9.0, false, "Diary number");
    p.text(margin + 80.0, y, 10.0, true, diary_no);
    y -= 14.0;
    p.text(margin, y, 9.0, false, "Received on");
    p.text(margin + 80.0, y, 10.0, false, received_on);
    y -= 14.0;
    p.text(margin, y, 9.0, false, "Tracking code");
    p.text(margin + 80.0, y, 11.0, true, code);
    // The QR code: one filled square per dark module, with a quiet zone of
    // four modules left white.
    let side = 150.0;
    let modules = qr.width();
    let unit = side / (modules + 8) as f32;
    let left = (w - side) / 2.0 + 4.0 * unit;
    let top = y - 16.0 - 4.0 * unit;
    for (i, colour) in qr.to_colors().into_iter().enumerate() {
        if colour == qrcode::Color::Dark {
            let (col, row) = ((i % modules) as f32, (i / modules) as f32);
            // A hair wider than the module, so no seams show between squares.
            p.bar(left + col * unit, top - (row + 1.0) * unit, unit + 0.05, unit + 0.05, (0.0, 0.0, 0.0));
        }
    }
    y = top - modules as f32 * unit - 4.0 * unit - 14.0;
    y = p.paragraph(
        margin,
        y,
        8.0,
        w - 2.0 * margin,
        "Scan the code, or open the address below and enter the diary number and tracking code, to see where \
         your letter is. Keep this code: it is shown only once and is the only way to follow the letter.",
    );
    p.paragraph(margin, y - 4.0, 7.0, w - 2.0 * margin, link);
    let (mut doc, _) = p.finish(&format!("Acknowledgement {diary_no}"), None)?;
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| format!("pdf: {e}"))?;
    Ok(out)
}
