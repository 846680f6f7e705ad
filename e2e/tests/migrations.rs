//! Migrations run up, down to nothing, and up again, on SQLite and PostgreSQL.

use e2e::{Backend, TestDatabase, both_backends};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

async fn table_names(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY name"
        }
        _ => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema='public' AND table_name <> 'seaql_migrations' ORDER BY table_name"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("tables")
        .into_iter()
        .map(|r| r.try_get::<String>("", "name").expect("name"))
        .collect()
}

async fn migrations_up_down_up(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let mut database = TestDatabase::create(backend, dir.path())
        .await
        .expect("db")
        .expect("backend available");
    let db = Database::connect(&database.url).await.expect("connect");
    Migrator::up(&db, None).await.expect("up");
    let tables = table_names(&db).await;
    for t in [
        "alert_rules",
        "alerts",
        "api_keys",
        "audit_log",
        "notification_channels",
        "scan_certificates",
        "scan_configs",
        "scan_ips",
        "scan_ports",
        "scan_scripts",
        "scan_services",
        "scan_sites",
        "scan_tls_versions",
        "scans",
        "schedules",
        "sessions",
        "settings",
        "users",
    ] {
        assert!(tables.iter().any(|n| n == t), "{t} missing from {tables:?}");
    }
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .is_empty()
    );
    Migrator::down(&db, None).await.expect("down");
    assert!(
        table_names(&db).await.is_empty(),
        "down removes every table"
    );
    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(table_names(&db).await, tables);
    db.close().await.ok();
    database.drop_database().await;
}
both_backends!(migrations_up_down_up);

async fn foreign_keys_cascade_from_scans(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let mut database = TestDatabase::create(backend, dir.path())
        .await
        .expect("db")
        .expect("backend available");
    let db = server::db::connect_migrated(&database.url, Default::default(), async |_| Ok(()))
        .await
        .expect("connect");
    let scan = server::service::results::store(&db, e2e::sample_scan("x", 2, 2))
        .await
        .expect("seed");
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        entity::scan_tls_version::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        8
    );
    entity::scan::Entity::delete_by_id(scan.id)
        .exec(&db)
        .await
        .expect("delete");
    for count in [
        entity::scan_site::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        entity::scan_ip::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        entity::scan_port::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        entity::scan_service::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        entity::scan_tls_version::Entity::find()
            .count(&db)
            .await
            .expect("count"),
    ] {
        assert_eq!(count, 0);
    }
    db.close().await.ok();
    database.drop_database().await;
}
both_backends!(foreign_keys_cascade_from_scans);
