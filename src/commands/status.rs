//! `trm-init status`: applied / pending / changed / missing migrations of both folders (and the
//! Directus schema fingerprint). Reads only: takes no lock, creates nothing.

use crate::config::Config;
use crate::db::{self, Locking};
use crate::exit::Failure;
use crate::init::{Init, Orphans};
use crate::preflight::db_init::{self, plan::State, Phase};

/// Runs on the init scaffold: as a container's PID 1 a stop signal still ends it, with 143.
pub(super) async fn status(config: Config) -> Result<u8, Failure> {
    let init = Init::start(Orphans::Leave)?;
    let shutdown = init.shutdown.clone();
    init.command(
        "status",
        db::with_session(&config, Locking::None, &shutdown, async |session| {
            // A stop signal cancels the running read on the server (the scaffold then exits 143).
            session.cancellable(&shutdown, report(session, &config)).await?
        }),
    )
    .await
}

/// The report, printed; a phase that cannot be read is reported and makes the command fail.
async fn report(session: &db::Session, config: &Config) -> Result<u8, Failure> {
    let mut out = format!("database: {}\nhistory table: {}\n", session.target(), config.db_init.table);
    let mut result = Ok(0);
    for phase in [Phase::Pre, Phase::Post] {
        match db_init::status(session, config, phase).await {
            Ok(lines) => out.push_str(&describe(phase, config, &lines)),
            Err(e) => {
                out.push_str(&format!("\n{}: {e}\n", phase.name()));
                result = Err(Failure::from(e));
            }
        }
    }
    out.push_str(&format!("\n{}\n", crate::preflight::directus::status_line(config, session).await));
    print!("{out}");
    result
}

fn describe(phase: Phase, config: &Config, lines: &[db_init::StatusLine]) -> String {
    let count = |f: fn(&State) -> bool| lines.iter().filter(|l| f(&l.state)).count();
    let mut out = format!(
        "\n{} ({}): {} applied, {} pending, {} changed, {} missing\n",
        phase.name(),
        phase.dir(config).display(),
        count(|s| *s == State::Applied),
        count(|s| matches!(s, State::Pending | State::OutOfOrder)),
        count(|s| matches!(s, State::Changed { .. })),
        count(|s| *s == State::Missing),
    );
    for line in lines {
        let state = match &line.state {
            State::Applied => "applied".to_string(),
            State::Pending => "pending".to_string(),
            State::OutOfOrder => "pending, out of order (refused unless db_init.allow_out_of_order)".to_string(),
            State::Changed { recorded } => {
                format!("CHANGED since applied (recorded checksum {recorded})")
            }
            State::Missing => "missing (recorded as applied, file gone)".to_string(),
        };
        out.push_str(&format!("  {:<40} {state}\n", line.name));
    }
    out
}
