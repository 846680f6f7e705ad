//! Import benchmark (run by `make bench`, see bench/run.sh): a synthetic 10,000-host `-sV`
//! document imported by SneakyScanner, against the floor — the streaming parse alone, and a raw
//! batched insert of the same rows with hand-written multi-row SQL — on fresh SQLite files.
//! Prints `key=value` lines.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nmap_parser::{Event, NmapReader};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use server::domain::auth::Actor;
use server::service::imports;

const RUNS: usize = 3;

fn best<F: FnMut() -> Duration>(mut f: F) -> Duration {
    (0..RUNS).map(|_| f()).min().unwrap_or_default()
}

/// One port row: ip index, port, service name, product, version, extra info, first CPE.
type PortRow = (
    usize,
    u16,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

struct Rows {
    ips: Vec<String>,
    ports: Vec<PortRow>,
}

fn parse_rows(file: &Path) -> Rows {
    let input = BufReader::with_capacity(1 << 16, std::fs::File::open(file).expect("open"));
    let mut rows = Rows {
        ips: Vec::new(),
        ports: Vec::new(),
    };
    for event in NmapReader::new(input) {
        if let Event::Host(host) = event.expect("parses") {
            let i = rows.ips.len();
            rows.ips
                .push(host.ip().map(|a| a.to_string()).unwrap_or_default());
            for p in host.ports {
                let s = p.service.unwrap_or_default();
                rows.ports.push((
                    i,
                    p.portid,
                    s.name,
                    s.product,
                    s.version,
                    s.extra_info,
                    s.cpes.into_iter().next(),
                ));
            }
        }
    }
    rows
}

fn q(v: &Option<String>) -> String {
    v.as_ref().map_or("NULL".to_owned(), |s| {
        format!("'{}'", s.replace('\'', "''"))
    })
}

/// The floor's insert: the same rows, ids chosen here, 500 rows per INSERT, one transaction.
async fn raw_insert(db: &DatabaseConnection, rows: &Rows) {
    let txn = server::db::begin_write(db).await.expect("begin");
    let db = &txn;
    db.execute_unprepared(
        "INSERT INTO scans (id, title, status, phase, percent, triggered_by, created_at, command_lines, \
         hosts_total, hosts_up, open_ports, services_count, certificates_count, unexpected_ports, missing_ports) \
         VALUES (1, 'floor', 'COMPLETED', 'done', 100, 'bench', '2026-11-21T00:00:00Z', '[]', 0, 0, 0, 0, 0, 0, 0)",
    )
    .await
    .expect("scan");
    db.execute_unprepared("INSERT INTO scan_sites (id, scan_id, name) VALUES (1, 1, 'Imported')")
        .await
        .expect("site");
    for (c, chunk) in rows.ips.chunks(500).enumerate() {
        let values: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(j, ip)| format!("({}, 1, 1, '{ip}', 'up', 1)", c * 500 + j + 1))
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO scan_ips (id, scan_id, site_id, address, status, ping_actual) VALUES {}",
            values.join(",")
        ))
        .await
        .expect("ips");
    }
    for (c, chunk) in rows.ports.chunks(500).enumerate() {
        let ports: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(j, p)| {
                format!(
                    "({}, 1, {}, {}, 'tcp', 'open', 'syn-ack', 0, 0)",
                    c * 500 + j + 1,
                    p.0 + 1,
                    p.1
                )
            })
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO scan_ports (id, scan_id, ip_id, port, protocol, state, reason, expected, unexpected) VALUES {}",
            ports.join(",")
        ))
        .await
        .expect("ports");
        let services: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let id = c * 500 + j + 1;
                format!(
                    "({id}, 1, {id}, '{}', {}, {}, {}, {})",
                    p.2,
                    q(&p.3),
                    q(&p.4),
                    q(&p.5),
                    q(&p.6)
                )
            })
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO scan_services (id, scan_id, port_id, name, product, version, extra_info, cpe) VALUES {}",
            services.join(",")
        ))
        .await
        .expect("services");
    }
    txn.commit().await.expect("commit");
}

#[tokio::main]
async fn main() {
    let hosts: usize = std::env::var("BENCH_HOSTS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(10_000);
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/bench".into()),
    );
    std::fs::create_dir_all(&dir).expect("bench dir");
    let file = dir.join("scan.xml");
    std::fs::write(&file, nmap_parser::synthetic::service_scan(hosts)).expect("write xml");
    let bytes = std::fs::metadata(&file).expect("size").len();

    let mut rows = None;
    let parse = best(|| {
        let t = Instant::now();
        rows = Some(parse_rows(&file));
        t.elapsed()
    });
    let rows = rows.expect("rows");

    // The copy an import keeps (its raw XML): the document through the same encoder alone.
    let mut kept = 0;
    let gzip = best(|| {
        let t = Instant::now();
        let mut encoder = server::scanner::artifacts::gzip_encoder();
        std::io::copy(&mut std::fs::File::open(&file).expect("open"), &mut encoder).expect("gzip");
        kept = encoder.finish().expect("gzip").len();
        t.elapsed()
    });

    let mut insert = Duration::MAX;
    for _ in 0..RUNS {
        let db = e2e::processes::fresh_sqlite(&dir, "floor").await;
        let t = Instant::now();
        raw_insert(&db, &rows).await;
        insert = insert.min(t.elapsed());
        db.close().await.ok();
    }

    let mut ours = Duration::MAX;
    let mut reports = Duration::MAX;
    let mut stored = 0;
    for _ in 0..RUNS {
        let db = e2e::processes::fresh_sqlite(&dir, "ours").await;
        let input = BufReader::with_capacity(1 << 16, std::fs::File::open(&file).expect("open"));
        let t = Instant::now();
        let data_dir = dir.join("ours-data");
        let scan = imports::import_xml(
            &db,
            &Actor::system(),
            input,
            Default::default(),
            &data_dir,
            30,
        )
        .await
        .expect("import");
        ours = ours.min(t.elapsed());
        stored = scan.open_ports;
        // The completion pipeline's share: its report pass (findings come from the same pass)
        // again on the stored scan; storing is the rest.
        let t = Instant::now();
        server::service::reports::write_reports(&db, &data_dir, 30, &scan)
            .await
            .expect("reports");
        reports = reports.min(t.elapsed());
        db.close().await.ok();
    }
    println!("file={}", file.display());
    println!("bytes={bytes}");
    println!("hosts={}", rows.ips.len());
    println!("ports={}", rows.ports.len());
    println!("stored_open_ports={stored}");
    println!("parse_s={:.4}", parse.as_secs_f64());
    println!("kept_gzip_s={:.4} kept_bytes={kept}", gzip.as_secs_f64());
    println!("raw_insert_s={:.4}", insert.as_secs_f64());
    println!("floor_s={:.4}", (parse + insert).as_secs_f64());
    println!("ours_s={:.4}", ours.as_secs_f64());
    println!("reports_s={:.4}", reports.as_secs_f64());
    println!(
        "storing_s={:.4}",
        ours.saturating_sub(reports).as_secs_f64()
    );
}
