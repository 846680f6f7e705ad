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
                        name: artifact::xml_name(phase),
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
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::copy(&mut BufReader::new(file), &mut encoder)?;
    encoder.flush()?;
    encoder.finish()
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
