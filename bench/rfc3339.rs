//! The RFC 3339 formatter alone, in one run (`cargo bench --bench rfc3339`): the hand-written formatter
//! edge-chat used until this benchmark (kept here, as it was, for the comparison), chrono's
//! `to_rfc3339_opts(SecondsFormat::Millis, true)` (what `domain::time::format_ms` uses now) and chrono's
//! `format("%Y-%m-%dT%H:%M:%S%.3fZ")`. A page of 100 messages formats 200 timestamps.
//! Figures and the decision they led to: bench/README.md.

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use edge_chat::domain::time::format_ms;

/// The former hand-written formatter: civil date from days since the epoch (Howard Hinnant's
/// algorithm), then `format!`.
fn hand_written(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

const N: i64 = 2_000_000;
const START: i64 = 1_705_314_600_000;

fn run(name: &str, f: impl Fn(i64) -> String) -> f64 {
    // Interleaved rounds, the median reported: the machine is shared.
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let mut bytes = 0usize;
            for i in 0..N {
                bytes += f(black_box(START + i * 7_919)).len();
            }
            black_box(bytes);
            started.elapsed().as_nanos() as f64 / N as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    let median = rounds[2];
    println!(
        "{name:<40} {median:>7.1} ns per timestamp, {:>6.1} us per page of 200",
        median * 200.0 / 1000.0
    );
    median
}

fn main() {
    for ms in [0, START, 253_402_300_799_999] {
        let chrono = DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        assert_eq!(hand_written(ms), chrono);
        assert_eq!(format_ms(ms), chrono);
    }
    // `cargo test --all-targets` runs this file too, without `--bench`: the checks above suffice there.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let hand = run("hand-written (before)", hand_written);
    let opts = run("chrono to_rfc3339_opts (format_ms now)", format_ms);
    let strftime = run("chrono format(\"%Y-%m-%dT%H:%M:%S%.3fZ\")", |ms| {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    });
    println!(
        "ratios: to_rfc3339_opts / hand = {:.2}, format / hand = {:.2}",
        opts / hand,
        strftime / hand
    );
}
