//! Gathers the files a run left on this machine — each phase's raw nmap XML (gzip-compressed
//! here) and the screenshots its results name — into [`Artifact`]s that travel with the
//! results, and removes them from disk: the database is where they live from then on.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use crate::domain::artifact::{self, Artifact};
use crate::domain::tree::NewSite;

/// The files of run `scan_id`: `run_dir` holds its raw XML (`<phase>.xml`), `data_dir` its
/// screenshots (the paths its results name). A file over its cap, or past the run's total,
/// is left out with a note (and a screenshot left out loses its name in the results). The
/// run's directories are removed afterwards.
pub fn take(
    data_dir: &Path,
    run_dir: &Path,
    scan_id: i32,
    sites: &mut [NewSite],
) -> (Vec<Artifact>, Vec<String>) {
    let mut out: Vec<Artifact> = Vec::new();
    let mut notes = Vec::new();
    let mut total = 0usize;
    let mut keep = |a: Artifact, notes: &mut Vec<String>, out: &mut Vec<Artifact>| {
        let ok = match a.check(scan_id) {
            Ok(_) if total + a.content.len() > artifact::MAX_TOTAL_BYTES => {
                notes.push(format!(
                    "{} not kept: the run's files are over their total",
                    a.name
                ));
                false
            }
            Ok(_) => true,
            Err(reason) => {
                notes.push(format!("not kept: {reason}"));
                false
            }
        };
        if ok {
            total += a.content.len();
            out.push(a);
        }
        ok
    };
    for port in sites
        .iter_mut()
        .flat_map(|s| &mut s.ips)
        .flat_map(|ip| &mut ip.ports)
    {
        let Some(service) = &mut port.service else {
            continue;
        };
        let Some(name) = service.screenshot_path.clone() else {
            continue;
        };
        let kept = std::fs::read(data_dir.join(&name))
            .ok()
            .is_some_and(|content| keep(Artifact { name, content }, &mut notes, &mut out));
        if !kept {
            service.screenshot_path = None;
        }
    }
    for phase in artifact::XML_PHASES {
        let path = run_dir.join(format!("{}.xml", phase.as_str()));
        let Ok(file) = File::open(&path) else {
            continue;
        };
        match gzip(file) {
            Ok(content) => {
                keep(
                    Artifact {
                        name: artifact::xml_name(phase.as_str()),
                        content,
                    },
                    &mut notes,
                    &mut out,
                );
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not read a phase's XML")
            }
        }
    }
    let _ = std::fs::remove_dir_all(run_dir);
    let _ = std::fs::remove_dir_all(data_dir.join(super::screenshot::relative_dir(scan_id)));
    (out, notes)
}

/// A file, gzip-compressed in memory (streamed from disk).
fn gzip(file: File) -> std::io::Result<Vec<u8>> {
    let mut encoder = gzip_encoder();
    std::io::copy(&mut BufReader::new(file), &mut encoder)?;
    encoder.finish()
}

/// How raw XML is compressed (the fastest level: nmap's XML shrinks 5–40× at it).
pub fn gzip_encoder() -> flate2::write::GzEncoder<Vec<u8>> {
    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())
}

/// A reader that keeps a gzip-compressed copy of what is read through it (an import's
/// document), up to the cap of a stored XML file; past it the copy is dropped.
pub struct Keep<R> {
    inner: R,
    copy: Option<flate2::write::GzEncoder<Vec<u8>>>,
}

impl<R> Keep<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            copy: Some(gzip_encoder()),
        }
    }

    /// The compressed copy; `None` when it grew past the cap.
    pub fn finish(self) -> Option<Vec<u8>> {
        self.copy?.finish().ok()
    }
}

/// Adds `bytes` to the copy; drops the copy past the cap (or on an error).
fn keep(copy: &mut Option<flate2::write::GzEncoder<Vec<u8>>>, bytes: &[u8]) {
    if let Some(encoder) = copy
        && (encoder.write_all(bytes).is_err()
            || encoder.get_ref().len() > artifact::MAX_XML_GZIP_BYTES)
    {
        *copy = None;
    }
}

impl<R: std::io::BufRead> std::io::Read for Keep<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        keep(&mut self.copy, &buf[..n]);
        Ok(n)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for Keep<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // What is consumed is the front of the buffer the last `fill_buf` returned.
        if self.copy.is_some()
            && let Ok(buffered) = self.inner.fill_buf()
        {
            keep(&mut self.copy, &buffered[..amount.min(buffered.len())]);
        }
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tree::{NewIp, NewPort, NewService};

    fn site(shot: &str) -> NewSite {
        NewSite {
            name: "Lab".into(),
            ips: vec![NewIp {
                address: "127.0.0.1".into(),
                hostname: None,
                status: "up".into(),
                ping_expected: None,
                ping_actual: Some(true),
                ports: [80, 81]
                    .into_iter()
                    .map(|port| NewPort {
                        port,
                        protocol: "tcp".into(),
                        state: "open".into(),
                        reason: None,
                        expected: false,
                        unexpected: false,
                        service: Some(NewService {
                            screenshot_path: Some(format!("{shot}{port}.png")),
                            ..Default::default()
                        }),
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn takes_the_xml_and_the_screenshots_named_and_removes_the_files() {
        let data = tempfile::tempdir().expect("tmp");
        let run = data.path().join("scans/9");
        let shots = data.path().join("screenshots/9");
        std::fs::create_dir_all(&run).expect("dir");
        std::fs::create_dir_all(&shots).expect("dir");
        let xml = "<?xml version=\"1.0\"?><nmaprun></nmaprun>".repeat(100);
        std::fs::write(run.join("tcp.xml"), &xml).expect("xml");
        std::fs::write(run.join("targets.txt"), "127.0.0.1\n").expect("targets");
        // Port 80's screenshot is a PNG; port 81's file is missing.
        std::fs::write(shots.join("127.0.0.1_80.png"), b"\x89PNG\r\n\x1a\nimage").expect("png");
        let mut sites = vec![site("screenshots/9/127.0.0.1_")];

        let (files, notes) = take(data.path(), &run, 9, &mut sites);
        let names: Vec<&str> = files.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["screenshots/9/127.0.0.1_80.png", "nmap/tcp.xml"]);
        assert!(notes.is_empty(), "{notes:?}");
        let tcp = &files[1].content;
        assert!(tcp.len() < xml.len() / 5, "compressed: {} bytes", tcp.len());
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(tcp.as_slice()), &mut back)
            .expect("gunzip");
        assert_eq!(back, xml);
        let paths: Vec<Option<String>> = sites[0].ips[0]
            .ports
            .iter()
            .map(|p| p.service.as_ref().and_then(|s| s.screenshot_path.clone()))
            .collect();
        assert_eq!(
            paths,
            [Some("screenshots/9/127.0.0.1_80.png".to_owned()), None],
            "a screenshot not kept loses its name"
        );
        assert!(
            !run.exists() && !shots.exists(),
            "the files are gone from disk"
        );
    }

    #[test]
    fn keep_copies_what_is_read_through_it_compressed() {
        use std::io::BufRead;
        let text = "<nmaprun>\n<host/>\n</nmaprun>\n".repeat(50);
        let mut keep = Keep::new(std::io::BufReader::with_capacity(7, text.as_bytes()));
        let mut lines = 0;
        let mut line = String::new();
        while keep.read_line(&mut line).expect("read") > 0 {
            lines += 1;
        }
        assert_eq!(lines, 150);
        let gz = keep.finish().expect("kept");
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut back)
            .expect("gunzip");
        assert_eq!(back, text);
    }

    #[test]
    fn a_file_that_is_not_what_its_name_says_is_left_out_with_a_note() {
        let data = tempfile::tempdir().expect("tmp");
        let run = data.path().join("scans/3");
        let shots = data.path().join("screenshots/3");
        std::fs::create_dir_all(&shots).expect("dir");
        std::fs::write(shots.join("127.0.0.1_80.png"), b"<html>").expect("file");
        let mut sites = vec![site("screenshots/3/127.0.0.1_")];
        let (files, notes) = take(data.path(), &run, 3, &mut sites);
        assert!(files.is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("not a image/png"), "{notes:?}");
    }
}
