//! Throughput of the streaming parser on a synthetic 10,000-host `-sV` document (~18 MB, the
//! size the import budget in DESIGN.md §11 is about), with criterion:
//! `cargo bench -p nmap-parser --bench parse`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nmap_parser::{Event, NmapReader};

const HOSTS: usize = 10_000;

fn parse(c: &mut Criterion) {
    let xml = nmap_parser::synthetic::service_scan(HOSTS);
    let mut group = c.benchmark_group("nmap-parser");
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.sample_size(20);
    group.bench_function("stream 10k-host -sV document", |b| {
        b.iter(|| {
            let mut ports = 0;
            for event in NmapReader::new(xml.as_bytes()) {
                match event {
                    Ok(Event::Host(host)) => ports += black_box(host).ports.len(),
                    Ok(_) => {}
                    Err(err) => panic!("synthetic document failed to parse: {err}"),
                }
            }
            ports
        });
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
