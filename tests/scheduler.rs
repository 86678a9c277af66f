//! The daemon's scheduler on tokio's paused clock: simulated days pass in milliseconds.

use std::sync::Arc;

use backproof::daemon::clock::{Clock, TokioClock};
use backproof::daemon::scheduler::{self, Fire};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn config(daemon: &str) -> (tempfile::TempDir, backproof::config::Config) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs.d")).unwrap();
    std::fs::write(
        dir.path().join("backproof.toml"),
        format!("data_dir = \"data\"\ntimezone = \"Europe/Berlin\"\n[daemon]\n{daemon}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs.d/acme.toml"),
        "client = \"Acme\"\nschedule = \"30 2 * * *\"\ndigest_schedule = \"0 7 * * 1\"\n[[targets]]\nname = \"nas\"\nurl = \"file:///srv/acme\"\n",
    )
    .unwrap();
    let c = backproof::config::load(&dir.path().join("backproof.toml")).unwrap();
    (dir, c)
}

fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn wall(t: DateTime<Utc>) -> String {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    t.with_timezone(&tz).format("%m-%d %H:%M %Z").to_string()
}

#[tokio::test(start_paused = true)]
async fn runs_fire_once_per_day_across_the_spring_daylight_saving_change() {
    let (_d, config) = config("");
    let clock = Arc::new(TokioClock::starting_at(berlin(2026, 3, 27, 12, 0)));
    let (tx, mut rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    scheduler::start(&config, clock.clone(), tx, Vec::new(), stop.clone());
    let end = berlin(2026, 3, 31, 12, 0);
    let (mut runs, mut digests) = (Vec::new(), Vec::new());
    while let Some(fire) = rx.recv().await {
        let now = clock.now();
        match fire {
            Fire::Run { slot, catch_up, .. } => {
                assert!(!catch_up);
                // It fired when its slot came, not before and not much after.
                assert!(
                    now >= slot && now - slot < chrono::Duration::seconds(1),
                    "{now} vs {slot}"
                );
                if slot > end {
                    break;
                }
                runs.push(wall(slot));
            }
            Fire::Digest { slot, .. } => digests.push(wall(slot)),
        }
    }
    stop.cancel();
    assert_eq!(
        runs,
        [
            "03-28 02:30 CET",
            "03-29 03:00 CEST",
            "03-30 02:30 CEST",
            "03-31 02:30 CEST"
        ]
    );
    assert_eq!(digests, ["03-30 07:00 CEST"]);
}

#[tokio::test(start_paused = true)]
async fn runs_fire_once_per_day_across_the_autumn_daylight_saving_change() {
    let (_d, config) = config("");
    let clock = Arc::new(TokioClock::starting_at(berlin(2026, 10, 24, 12, 0)));
    let (tx, mut rx) = mpsc::channel(16);
    scheduler::start(
        &config,
        clock.clone(),
        tx,
        Vec::new(),
        CancellationToken::new(),
    );
    let mut runs = Vec::new();
    while runs.len() < 3 {
        if let Some(Fire::Run { slot, .. }) = rx.recv().await {
            runs.push(wall(slot));
        }
    }
    assert_eq!(
        runs,
        ["10-25 02:30 CEST", "10-26 02:30 CET", "10-27 02:30 CET"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_missed_run_is_caught_up_once_after_the_delay() {
    let (_d, config) = config("catch_up_delay = \"2m\"");
    let start = berlin(2026, 5, 10, 9, 0);
    // The daemon last handled the slot of 7 May: three slots were missed.
    let last = berlin(2026, 5, 7, 2, 30);
    let missed = scheduler::missed(&config, start, &|_| Some(last));
    assert_eq!(
        missed,
        vec![("acme".to_string(), berlin(2026, 5, 10, 2, 30))]
    );
    // Up to date: nothing to catch up; never seen: nothing either.
    assert!(scheduler::missed(&config, start, &|_| Some(berlin(2026, 5, 10, 2, 30))).is_empty());
    assert!(scheduler::missed(&config, start, &|_| None).is_empty());

    let clock = Arc::new(TokioClock::starting_at(start));
    let (tx, mut rx) = mpsc::channel(16);
    scheduler::start(&config, clock.clone(), tx, missed, CancellationToken::new());
    let first = rx.recv().await.unwrap();
    assert_eq!(
        first,
        Fire::Run {
            job: "acme".into(),
            slot: berlin(2026, 5, 10, 2, 30),
            catch_up: true
        }
    );
    assert_eq!(clock.now() - start, chrono::Duration::minutes(2));
    // Then the regular schedule, once.
    let next = rx.recv().await.unwrap();
    assert_eq!(
        next,
        Fire::Run {
            job: "acme".into(),
            slot: berlin(2026, 5, 11, 2, 30),
            catch_up: false
        }
    );
}

#[tokio::test(start_paused = true)]
async fn catch_up_can_be_switched_off() {
    let (_d, config) = config("catch_up = false");
    let start = berlin(2026, 5, 10, 9, 0);
    let missed = scheduler::missed(&config, start, &|_| Some(berlin(2026, 5, 7, 2, 30)));
    let clock = Arc::new(TokioClock::starting_at(start));
    let (tx, mut rx) = mpsc::channel(16);
    scheduler::start(&config, clock.clone(), tx, missed, CancellationToken::new());
    match rx.recv().await.unwrap() {
        Fire::Run { slot, catch_up, .. } => {
            assert!(!catch_up);
            assert_eq!(slot, berlin(2026, 5, 11, 2, 30));
        }
        other => panic!("{other:?}"),
    }
}
