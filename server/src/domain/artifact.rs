//! The files a run leaves behind — the raw nmap XML of each phase and the page screenshots —
//! stored with its results so that every replica serves them (no shared filesystem). What a
//! file is comes from its name, never from what the sender says: `nmap/<phase>.xml` (gzip; an
//! imported document is `nmap/import.xml`; a chunked scan keeps each chunk's as
//! `nmap/<phase>.<chunk>.xml`) or `screenshots/<scan id>/<file>.png` (PNG).

use serde::{Deserialize, Serialize};

use super::config::Phase;

/// The largest screenshot kept.
pub const MAX_SCREENSHOT_BYTES: usize = 10 << 20;
/// The largest compressed raw XML of one phase kept.
pub const MAX_XML_GZIP_BYTES: usize = 24 << 20;
/// The most a run's files may weigh together (an agent sends them in one message, base64).
pub const MAX_TOTAL_BYTES: usize = 40 << 20;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";

/// The nmap phases whose output is kept.
pub const XML_PHASES: [Phase; 4] = [Phase::Ping, Phase::Tcp, Phase::Udp, Phase::Service];
/// The name of an imported document's XML.
pub const IMPORT: &str = "import";
/// Every raw XML file a scan may have, in the order they are listed.
pub const XML_FILES: [&str; 5] = ["ping", "tcp", "udp", "service", IMPORT];

/// One file of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub name: String,
    /// The stored bytes (gzip for XML), base64 on the wire.
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
}

/// What a file is, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Raw nmap XML: a phase's output (`ping`, `tcp`, `udp`, `service`) or an import.
    NmapXml(&'static str),
    Screenshot,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::NmapXml(_) => "application/xml",
            Kind::Screenshot => "image/png",
        }
    }

    /// `gzip` when stored compressed.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Kind::NmapXml(_) => Some("gzip"),
            Kind::Screenshot => None,
        }
    }
}

/// The name of a raw XML file (`ping`, …, `import`).
pub fn xml_name(file: &str) -> String {
    format!("nmap/{file}.xml")
}

/// The name of chunk `chunk`'s raw XML file in a chunked scan.
pub fn chunk_xml_name(file: &str, chunk: i32) -> String {
    format!("nmap/{file}.{chunk}.xml")
}

/// The name a screenshot of scan `from` takes under scan `to` (a chunk's, merged into its
/// scan); `None` for a name that is not under `from`'s screenshots.
pub fn moved_screenshot(name: &str, from: i32, to: i32) -> Option<String> {
    name.strip_prefix(&format!("screenshots/{from}/"))
        .map(|file| format!("screenshots/{to}/{file}"))
}

/// The raw XML file a name stands for, and its chunk (`nmap/tcp.3.xml`: `("tcp", Some(3))`).
pub fn xml_file(name: &str) -> Option<(&'static str, Option<u32>)> {
    let rest = name.strip_prefix("nmap/")?.strip_suffix(".xml")?;
    let (file, chunk) = match rest.split_once('.') {
        Some((file, n)) if !n.is_empty() && !n.starts_with('0') && n.len() <= 6 => {
            (file, Some(n.parse::<u32>().ok()?))
        }
        Some(_) => return None,
        None => (rest, None),
    };
    XML_FILES
        .into_iter()
        .find(|f| *f == file)
        .map(|f| (f, chunk))
}

/// The kind of a file of scan `scan_id` named `name`; `None` for any other name.
pub fn kind_of(scan_id: i32, name: &str) -> Option<Kind> {
    if name.starts_with("nmap/") {
        return xml_file(name).map(|(file, _)| Kind::NmapXml(file));
    }
    let file = name.strip_prefix(&format!("screenshots/{scan_id}/"))?;
    let plain = !file.is_empty()
        && !file.starts_with('.')
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    (plain && file.ends_with(".png")).then_some(Kind::Screenshot)
}

impl Artifact {
    /// Checks a file said to be of scan `scan_id` (name, size, magic bytes); returns its kind.
    pub fn check(&self, scan_id: i32) -> Result<Kind, String> {
        let kind = kind_of(scan_id, &self.name)
            .ok_or_else(|| format!("{:?} is not a file of scan {scan_id}", self.name))?;
        let (magic, max) = match kind {
            Kind::NmapXml(_) => (GZIP_MAGIC, MAX_XML_GZIP_BYTES),
            Kind::Screenshot => (PNG_MAGIC, MAX_SCREENSHOT_BYTES),
        };
        if !self.content.starts_with(magic) {
            return Err(format!("{} is not a {}", self.name, kind.content_type()));
        }
        if self.content.len() > max {
            return Err(format!(
                "{} is {} bytes, more than the {max} kept",
                self.name,
                self.content.len()
            ));
        }
        Ok(kind)
    }
}

/// Checks a run's files: each one, no name twice, and the total.
pub fn check_all(scan_id: i32, artifacts: &[Artifact]) -> Result<(), String> {
    let mut total = 0usize;
    for (n, a) in artifacts.iter().enumerate() {
        a.check(scan_id)?;
        if artifacts[..n].iter().any(|b| b.name == a.name) {
            return Err(format!("{} is sent twice", a.name));
        }
        total += a.content.len();
    }
    if total > MAX_TOTAL_BYTES {
        return Err(format!(
            "the files weigh {total} bytes, more than the {MAX_TOTAL_BYTES} kept"
        ));
    }
    Ok(())
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(name: &str) -> Artifact {
        let mut content = PNG_MAGIC.to_vec();
        content.extend_from_slice(b"rest");
        Artifact {
            name: name.into(),
            content,
        }
    }

    #[test]
    fn kinds_come_from_names_of_this_scan_only() {
        assert_eq!(kind_of(7, "nmap/tcp.xml"), Some(Kind::NmapXml("tcp")));
        assert_eq!(kind_of(7, "nmap/import.xml"), Some(Kind::NmapXml(IMPORT)));
        assert_eq!(kind_of(7, "nmap/http.xml"), None);
        assert_eq!(kind_of(7, "nmap/../tcp.xml"), None);
        // A chunk's raw XML in a chunked scan.
        assert_eq!(kind_of(7, "nmap/tcp.3.xml"), Some(Kind::NmapXml("tcp")));
        assert_eq!(xml_file("nmap/tcp.3.xml"), Some(("tcp", Some(3))));
        assert_eq!(
            xml_file(&chunk_xml_name("ping", 12)),
            Some(("ping", Some(12)))
        );
        assert_eq!(xml_file("nmap/service.xml"), Some(("service", None)));
        for bad in [
            "nmap/tcp.03.xml",
            "nmap/tcp..xml",
            "nmap/tcp.x.xml",
            "nmap/tcp.1.2.xml",
            "nmap/tcp.-1.xml",
            "nmap/tcp.9999999.xml",
        ] {
            assert_eq!(xml_file(bad), None, "{bad}");
        }
        assert_eq!(
            kind_of(7, "screenshots/7/127.0.0.1_80.png"),
            Some(Kind::Screenshot)
        );
        for bad in [
            "screenshots/8/127.0.0.1_80.png",
            "screenshots/7/../8/a.png",
            "screenshots/7/a/b.png",
            "screenshots/7/.png",
            "screenshots/7/a.jpg",
            "/etc/passwd",
            "",
        ] {
            assert_eq!(kind_of(7, bad), None, "{bad}");
        }
    }

    #[test]
    fn check_refuses_wrong_magic_oversize_duplicates_and_weight() {
        assert_eq!(png("screenshots/1/a.png").check(1), Ok(Kind::Screenshot));
        let not_png = Artifact {
            name: "screenshots/1/a.png".into(),
            content: b"<html>".to_vec(),
        };
        assert!(not_png.check(1).is_err());
        let plain_xml = Artifact {
            name: "nmap/ping.xml".into(),
            content: b"<?xml".to_vec(),
        };
        assert!(plain_xml.check(1).is_err(), "XML is kept gzip-compressed");
        let mut big = png("screenshots/1/b.png");
        big.content.resize(MAX_SCREENSHOT_BYTES + 1, 0);
        assert!(big.check(1).expect_err("too big").contains("more than"));
        let twice = [png("screenshots/1/a.png"), png("screenshots/1/a.png")];
        assert!(check_all(1, &twice).expect_err("twice").contains("twice"));
        let heavy: Vec<Artifact> = (0..5)
            .map(|n| {
                let mut a = png(&format!("screenshots/1/{n}.png"));
                a.content.resize(MAX_SCREENSHOT_BYTES, 0);
                a
            })
            .collect();
        assert!(
            check_all(1, &heavy)
                .expect_err("too heavy")
                .contains("weigh")
        );
    }

    #[test]
    fn content_is_base64_on_the_wire() {
        let a = png("screenshots/1/a.png");
        let text = serde_json::to_string(&a).expect("json");
        assert!(text.contains("iVBORw0KGgpyZXN0"), "{text}");
        assert_eq!(serde_json::from_str::<Artifact>(&text).expect("parse"), a);
    }
}
