//! One nmap child process: argv only (never a shell), its own process group (so a kill takes
//! every child with it), stdout parsed as a stream of XML events on a blocking thread while a
//! copy goes to a file, stderr kept (its tail) for error messages.

use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use nmap_parser::{Event, NmapReader, ParseError};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Most stderr kept for the error message.
const STDERR_KEEP: usize = 16 * 1024;

pub struct NmapProcess {
    child: Child,
    pgid: Option<i32>,
    events: mpsc::Receiver<Result<Event, ParseError>>,
    stderr: Option<tokio::task::JoinHandle<String>>,
}

/// How the process ended.
#[derive(Debug)]
pub struct Exit {
    pub success: bool,
    pub code: Option<i32>,
    /// The last part of what nmap wrote on stderr.
    pub stderr: String,
}

impl NmapProcess {
    /// Starts `argv` with stdout copied to `raw_xml`.
    pub fn spawn(argv: &[String], raw_xml: &Path) -> std::io::Result<Self> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty command line"))?;
        let raw = std::fs::File::create(raw_xml)?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?
            .into_owned_fd()?;
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("no stderr"))?;
        let (tx, events) = mpsc::channel(256);
        tokio::task::spawn_blocking(move || {
            let tee = Tee {
                inner: std::fs::File::from(stdout),
                copy: Some(raw),
            };
            let mut reader = NmapReader::new(BufReader::with_capacity(64 * 1024, tee));
            loop {
                let item = match reader.next_event() {
                    Ok(Some(event)) => Ok(event),
                    Ok(None) => break,
                    Err(e) => Err(e),
                };
                let stop = item.is_err();
                // The receiver is gone when the scan stopped: then so do we.
                if tx.blocking_send(item).is_err() || stop {
                    break;
                }
            }
            // Read to the end so nmap never blocks on a full pipe after a parse error.
            let mut rest = reader.into_inner();
            let _ = std::io::copy(&mut rest, &mut std::io::sink());
        });
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 2 * STDERR_KEEP {
                    buf.drain(..buf.len() - STDERR_KEEP);
                }
            }
            let start = buf.len().saturating_sub(STDERR_KEEP);
            String::from_utf8_lossy(&buf[start..]).trim().to_owned()
        });
        Ok(Self {
            child,
            pgid,
            events,
            stderr: Some(stderr),
        })
    }

    /// The next parsed event; `None` when stdout is closed.
    pub async fn next_event(&mut self) -> Option<Result<Event, ParseError>> {
        self.events.recv().await
    }

    /// Kills the whole process group (nmap and anything it started).
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }

    /// Waits for the process to end (killing it after `grace`).
    pub async fn wait(mut self, grace: Duration) -> Exit {
        self.events.close();
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                self.kill();
                self.child.wait().await.ok()
            }
        };
        let stderr = match self.stderr.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => String::new(),
        };
        Exit {
            success: status.is_some_and(|s| s.success()),
            code: status.and_then(|s| s.code()),
            stderr,
        }
    }
}

impl Drop for NmapProcess {
    fn drop(&mut self) {
        // Never leave a group behind, whatever path dropped us.
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Reads from `inner` and writes a copy of every byte to `copy` (dropped on a write error:
/// the scan matters more than the copy).
struct Tee<R> {
    inner: R,
    copy: Option<std::fs::File>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(file) = &mut self.copy
            && file.write_all(&buf[..n]).is_err()
        {
            self.copy = None;
        }
        Ok(n)
    }
}

/// Kills leftover nmap process groups of a process that died without cleaning up (SIGKILL,
/// power loss): those whose command line reads targets from under `scans_dir/<scan id>/` for
/// a scan that `orphaned` says no live process runs. Returns how many were killed.
pub fn reap_orphans(scans_dir: &Path, orphaned: impl Fn(i32) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let me = std::process::id();
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let scan = args.windows(2).find_map(|w| {
            if w[0] != b"-iL" {
                return None;
            }
            let file = Path::new(std::str::from_utf8(w[1]).ok()?);
            scan_of(scans_dir, file)
        });
        if let Some(scan) = scan
            && orphaned(scan)
            && let Ok(pid) = i32::try_from(pid)
        {
            // The scanner runs each nmap as its own group leader.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            killed += 1;
        }
    }
    killed
}

/// The scan a work file belongs to: `<scans_dir>/<scan id>/…`.
fn scan_of(scans_dir: &Path, file: &Path) -> Option<i32> {
    file.strip_prefix(scans_dir)
        .ok()?
        .components()
        .next()?
        .as_os_str()
        .to_str()?
        .parse()
        .ok()
}

/// The first `name` executable on PATH.
pub fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}
