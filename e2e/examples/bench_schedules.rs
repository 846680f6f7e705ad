//! Schedules benchmark (issue 14; run by `make bench`, see bench/run.sh), on a fresh SQLite
//! file with 1,000 schedules:
//!
//! - the idle tick every `serve` process pays each second (nothing due): `fire_due` median;
//! - firing 100 due schedules in one tick (run row + scan + cursor, one transaction each)
//!   against its peer, starting the same 100 scans by hand (`scans::start`).
//!
//! Prints `key=value` lines.

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use server::domain::auth::Actor;
use server::domain::schedule::{MisfirePolicy, OverlapPolicy};
use server::service::schedules::{self, ScheduleInput};
use server::service::{configs, scans};

const SCHEDULES: usize = 1_000;
const DUE: usize = 100;

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/bench".into()),
    )
    .join("schedules");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let db = e2e::processes::fresh_sqlite(&dir, "schedules").await;
    let actor = Actor::system();
    let config = configs::create(
        &db,
        &actor,
        "title: Bench\nsites:\n  - name: Lab\n    ips:\n      - address: 127.0.0.1\nscan:\n  tcp_ports: \"22\"\n  phases: [tcp]\n",
    )
    .await
    .expect("config");
    let t = Instant::now();
    for i in 0..SCHEDULES {
        schedules::create(
            &db,
            &actor,
            ScheduleInput {
                name: format!("schedule {i}"),
                config_id: config.id,
                cron: format!("{} 3 * * *", i % 60),
                timezone: "Europe/Berlin".into(),
                enabled: true,
                // ALLOW: the 100 firings below start scans whatever ran before.
                overlap: OverlapPolicy::Allow,
                misfire: MisfirePolicy::Skip,
                starting_deadline_seconds: None,
            },
        )
        .await
        .expect("schedule");
    }
    println!("schedules={SCHEDULES}");
    println!(
        "create_ms={:.3}",
        t.elapsed().as_secs_f64() * 1000.0 / SCHEDULES as f64
    );

    // The idle tick.
    let mut idle = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let fired = schedules::fire_due(&db, Utc::now()).await.expect("tick");
        idle.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(fired.is_empty());
    }
    println!("idle_tick_us={:.0}", e2e::processes::median(idle));

    // 100 due at once (on time: a second ago).
    entity::schedule::Entity::update_many()
        .col_expr(
            entity::schedule::Column::NextRunAt,
            Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(entity::schedule::Column::Id.lte(DUE as i32))
        .exec(&db)
        .await
        .expect("make due");
    let t = Instant::now();
    let fired = schedules::fire_due(&db, Utc::now()).await.expect("fire");
    let firing = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(fired.iter().filter(|f| f.started.is_some()).count(), DUE);
    println!("fire_{DUE}_ms={firing:.1}");
    println!("per_firing_ms={:.2}", firing / DUE as f64);

    // The peer: the same scans started by hand.
    let t = Instant::now();
    for _ in 0..DUE {
        scans::start(
            &db,
            &actor,
            scans::StartRequest {
                config_id: Some(config.id),
                ..Default::default()
            },
        )
        .await
        .expect("start");
    }
    let by_hand = t.elapsed().as_secs_f64() * 1000.0;
    println!("start_{DUE}_by_hand_ms={by_hand:.1}");
    println!("per_start_ms={:.2}", by_hand / DUE as f64);
    println!("firing_vs_start={:.2}", firing / by_hand);
    db.close().await.ok();
}
