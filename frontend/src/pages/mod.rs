pub mod home;
pub mod login;
