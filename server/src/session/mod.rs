//! Browser sessions: the axum-login backend (users from the database), the tower-sessions
//! store over sea-orm, and signing in and out.

pub mod backend;
pub mod sign_in;
pub mod store;
