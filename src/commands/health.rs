//! `trm-init health`: probe the local /healthz (or `--url`) once. Exit 0 when it answers 200, 1 for
//! anything else (refused, timeout, 503, garbage, a bad URL); never 2, which Docker reserves. Prints one
//! short line. The image's HEALTHCHECK runs this: it needs no shell, curl or resolver.

use crate::cli::HealthArgs;
use crate::config::Config;
use crate::exit::{Failure, FAILURE as UNHEALTHY, HEALTHY};
use crate::health::{client, target::Target};

pub(super) async fn health(args: HealthArgs, config: &Config) -> Result<u8, Failure> {
    let target = match &args.url {
        Some(url) => match Target::parse(url) {
            Ok(t) => t,
            Err(e) => {
                println!("unhealthy: --url {e}");
                return Ok(UNHEALTHY);
            }
        },
        None if !config.health.enabled => {
            println!("unhealthy: health.enabled = false: there is no health server to probe (give --url)");
            return Ok(UNHEALTHY);
        }
        None => Target::local(config.health.listen, "/healthz"),
    };
    let probe = client::probe(&target, args.timeout.get()).await;
    println!("{}", probe.line);
    Ok(if probe.healthy { HEALTHY } else { UNHEALTHY })
}
