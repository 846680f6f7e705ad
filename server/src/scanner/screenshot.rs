//! The screenshot phase: headless Chromium (the system's `chromium`) renders each web page that
//! answered to a PNG under `<data_dir>/screenshots/<scan id>/`. Each Chromium runs in its own
//! process group with its own profile directory, a few at once, and is killed at its time
//! limit. Without Chromium the phase is skipped with a note, never failed.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::http_probe::Target;
use super::process::find_on_path;

/// Where a scan's screenshots live, relative to the data dir.
pub fn relative_dir(scan_id: i32) -> PathBuf {
    PathBuf::from("screenshots").join(scan_id.to_string())
}

/// A screenshot's file name: from the typed address and port only.
pub fn file_name(target: &Target) -> String {
    let ip = target.ip.to_string().replace(':', "-");
    format!("{ip}_{}.png", target.port)
}

/// The Chromium to use: the configured path if it exists, else the first known name on PATH.
pub fn find_chromium(configured: &str) -> Option<PathBuf> {
    let candidates: Vec<&str> = if configured.is_empty() {
        vec!["chromium", "chromium-browser", "google-chrome"]
    } else {
        vec![configured]
    };
    for name in candidates {
        let path = Path::new(name);
        if path.is_absolute() {
            if path.is_file() {
                return Some(path.to_path_buf());
            }
            continue;
        }
        let found = find_on_path(name);
        if found.is_some() {
            return found;
        }
    }
    None
}

#[derive(Debug, Clone)]
pub struct Shooter {
    pub chromium: PathBuf,
    pub timeout: Duration,
    pub concurrency: usize,
}

impl Shooter {
    /// Captures each target into `dir`; per target the file written, or why not. In order.
    pub async fn capture_all(
        &self,
        targets: &[Target],
        dir: &Path,
    ) -> Vec<Result<PathBuf, String>> {
        if let Err(e) = tokio::fs::create_dir_all(dir).await {
            let error = format!("cannot create {}: {e}", dir.display());
            return targets.iter().map(|_| Err(error.clone())).collect();
        }
        futures::stream::iter(targets.iter().cloned().enumerate().map(|(i, t)| {
            let shooter = self.clone();
            let dir = dir.to_owned();
            async move { shooter.capture(&t, &dir, i).await }
        }))
        .buffered(self.concurrency.max(1))
        .collect()
        .await
    }

    async fn capture(&self, target: &Target, dir: &Path, n: usize) -> Result<PathBuf, String> {
        let out = dir.join(file_name(target));
        let profile = dir.join(format!(".profile-{n}"));
        let result = self.run(&target.url(), &out, &profile).await;
        let _ = tokio::fs::remove_dir_all(&profile).await;
        result?;
        match tokio::fs::metadata(&out).await {
            Ok(m) if m.len() > 0 => Ok(out),
            _ => Err("Chromium wrote no image".to_owned()),
        }
    }

    async fn run(&self, url: &str, out: &Path, profile: &Path) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new(&self.chromium);
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--ignore-certificate-errors",
            "--hide-scrollbars",
            "--window-size=1280,800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", out.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
        cmd.as_std_mut().process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not start Chromium: {e}"))?;
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("Chromium exited with {status}")),
            Ok(Err(e)) => Err(format!("Chromium: {e}")),
            Err(_) => {
                if let Some(group) = group {
                    let _ = killpg(group, Signal::SIGKILL);
                }
                let _ = child.wait().await;
                Err(format!("no page within {} s", self.timeout.as_secs()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_typed_values() {
        let t = Target {
            ip: "::1".parse().expect("ip"),
            port: 443,
            tls: true,
        };
        assert_eq!(file_name(&t), "--1_443.png");
        assert_eq!(relative_dir(7), PathBuf::from("screenshots/7"));
    }

    #[test]
    fn missing_chromium_is_none() {
        assert_eq!(find_chromium("/nonexistent/chromium"), None);
    }
}
