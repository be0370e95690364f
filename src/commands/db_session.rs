//! A plain database session for the commands, until `src/db` (connect with wait, TLS, advisory lock)
//! is merged: one connection from Directus's DB_* variables, no TLS, no waiting, no lock.

use crate::config::database::{DbSettings, DbTarget};
use crate::config::Config;
use crate::exit::{self, Failure};
use tokio_postgres::{Client, NoTls};

pub async fn connect(_config: &Config) -> Result<Client, Failure> {
    let settings = DbSettings::from_env().map_err(Failure::from)?;
    let mut pg = tokio_postgres::Config::new();
    match &settings.target {
        DbTarget::Params { host, port, database, user, password } => {
            pg.host(host).port(*port).dbname(database).user(user);
            if let Some(p) = password {
                pg.password(p.expose());
            }
        }
        DbTarget::ConnectionString(dsn) => {
            pg = dsn.expose().parse().map_err(|e| Failure::new(exit::CONFIG, format!("DB_CONNECTION_STRING: {e}")))?;
        }
    }
    let (client, connection) = pg
        .connect(NoTls)
        .await
        .map_err(|e| Failure::new(exit::UNAVAILABLE, format!("cannot connect to {}: {e}", settings.describe())))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("database connection ended: {e}");
        }
    });
    Ok(client)
}
