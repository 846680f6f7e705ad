//! Database migrations (sea-orm-migration). Applied at server start and by `sneakyscan migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_initial;
mod m20261122_000002_scan_engine;
mod m20261123_000003_http_probe;
mod m20261202_000004_core;
mod m20261203_000005_jobs;
mod m20261203_000006_agents;
mod m20261204_000007_artifacts;
mod m20261205_000008_chunks;
mod m20261205_000009_coverage;
mod m20261206_000010_history;
mod m20261207_000011_schedules;
mod m20261207_000012_scan_digests;
mod m20261208_000013_saved_views;
mod m20261208_000014_host_fact_index;
mod m20261209_000015_service_fact_indexes;
mod m20261210_000016_alerts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_initial::Migration),
            Box::new(m20261122_000002_scan_engine::Migration),
            Box::new(m20261123_000003_http_probe::Migration),
            Box::new(m20261202_000004_core::Migration),
            Box::new(m20261203_000005_jobs::Migration),
            Box::new(m20261203_000006_agents::Migration),
            Box::new(m20261204_000007_artifacts::Migration),
            Box::new(m20261205_000008_chunks::Migration),
            Box::new(m20261205_000009_coverage::Migration),
            Box::new(m20261206_000010_history::Migration),
            Box::new(m20261207_000011_schedules::Migration),
            Box::new(m20261207_000012_scan_digests::Migration),
            Box::new(m20261208_000013_saved_views::Migration),
            Box::new(m20261208_000014_host_fact_index::Migration),
            Box::new(m20261209_000015_service_fact_indexes::Migration),
            Box::new(m20261210_000016_alerts::Migration),
        ]
    }
}
